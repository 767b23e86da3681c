//! Data augmentation: random transformations of training images, drawn per sample as a
//! batch is written, so the network sees a slightly different training set every epoch.
//! Only training batches are augmented; validation and test images are written as stored.

use rand::Rng;

use super::split::SampleShape;

/// The `flip` and `shift` settings of a `train` block.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Augment {
    /// Probability that an image is mirrored left to right, in `[0, 1]`.
    pub flip: f32,
    /// Largest translation in pixels along each axis; the offset along each axis is
    /// drawn uniformly from `-shift..=shift` (at most one less than the image's side),
    /// and pixels moved in from outside are 0.
    pub shift: u32,
}

/// What was drawn for one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Draw {
    mirror: bool,
    dx: isize,
    dy: isize,
}

impl Augment {
    /// True when no image would change, so batches can be written without drawing.
    pub fn is_identity(&self) -> bool {
        self.flip <= 0.0 && self.shift == 0
    }

    fn draw(&self, rows: usize, cols: usize, rng: &mut impl Rng) -> Draw {
        let mirror = self.flip > 0.0 && rng.random::<f32>() < self.flip;
        let dx = self.offset(cols, rng);
        let dy = self.offset(rows, rng);
        Draw { mirror, dx, dy }
    }

    /// An offset along an axis of `side` pixels.
    fn offset(&self, side: usize, rng: &mut impl Rng) -> isize {
        let limit = (self.shift as usize).min(side.saturating_sub(1)) as i64;
        if limit == 0 {
            0
        } else {
            rng.random_range(-limit..=limit) as isize
        }
    }

    /// Writes `image` (`shape`'s channels of `rows × cols` values, row after row) into
    /// `out` as `value(v)`, every channel transformed by one fresh draw from `rng`.
    /// Allocates nothing.
    pub(super) fn write<T: Copy>(
        &self,
        image: &[T],
        out: &mut [f32],
        shape: SampleShape,
        value: impl Fn(T) -> f32,
        rng: &mut impl Rng,
    ) {
        let SampleShape { rows, cols, .. } = shape;
        let draw = self.draw(rows, cols, rng);
        let plane = rows * cols;
        for (image, out) in image.chunks_exact(plane).zip(out.chunks_exact_mut(plane)) {
            write_transformed(image, out, rows, cols, draw, &value);
        }
    }
}

/// `out[r][c] = value(image[r − dy][m(c − dx)])`, where `m` mirrors a column when `draw`
/// says so, and 0 where the source falls outside the image.
fn write_transformed<T: Copy>(
    image: &[T],
    out: &mut [f32],
    rows: usize,
    cols: usize,
    draw: Draw,
    value: impl Fn(T) -> f32,
) {
    debug_assert_eq!(image.len(), rows * cols);
    debug_assert_eq!(out.len(), rows * cols);
    for (r, out_row) in out.chunks_exact_mut(cols).enumerate() {
        let src_r = r as isize - draw.dy;
        if src_r < 0 || src_r >= rows as isize {
            out_row.fill(0.0);
            continue;
        }
        let src_row = &image[src_r as usize * cols..(src_r as usize + 1) * cols];
        for (c, x) in out_row.iter_mut().enumerate() {
            let j = c as isize - draw.dx;
            *x = if j < 0 || j >= cols as isize {
                0.0
            } else {
                let j = if draw.mirror {
                    cols - 1 - j as usize
                } else {
                    j as usize
                };
                value(src_row[j])
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Generator;
    use rand::SeedableRng;

    /// A 3×4 image with distinct pixels 1..=12.
    fn image() -> Vec<u8> {
        (1..=12).collect()
    }

    /// The 3×4 image written with a mirror (or not) and a shift of `(dx, dy)`.
    fn transformed(mirror: bool, dx: isize, dy: isize) -> Vec<f32> {
        let mut out = vec![f32::NAN; 12];
        write_transformed(&image(), &mut out, 3, 4, Draw { mirror, dx, dy }, |p| {
            f32::from(p) / 255.0
        });
        out.iter().map(|x| x * 255.0).collect()
    }

    #[test]
    fn the_identity_draw_only_scales() {
        let out = transformed(false, 0, 0);
        let expected: Vec<f32> = image().iter().map(|&p| f32::from(p)).collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn a_mirror_reverses_every_row() {
        let out = transformed(true, 0, 0);
        assert_eq!(out, [4., 3., 2., 1., 8., 7., 6., 5., 12., 11., 10., 9.]);
    }

    #[test]
    fn a_shift_moves_pixels_and_fills_with_zero() {
        // One column right, one row down.
        let out = transformed(false, 1, 1);
        assert_eq!(out, [0., 0., 0., 0., 0., 1., 2., 3., 0., 5., 6., 7.]);
        // One column left, one row up.
        let out = transformed(false, -1, -1);
        assert_eq!(out, [6., 7., 8., 0., 10., 11., 12., 0., 0., 0., 0., 0.]);
    }

    #[test]
    fn mirror_then_shift() {
        let out = transformed(true, 1, 0);
        assert_eq!(out, [0., 4., 3., 2., 0., 8., 7., 6., 0., 12., 11., 10.]);
    }

    #[test]
    fn draws_stay_within_the_settings_and_cover_them() {
        let augment = Augment {
            flip: 0.5,
            shift: 2,
        };
        let mut rng = Generator::seed_from_u64(1);
        let draws: Vec<Draw> = (0..2000).map(|_| augment.draw(28, 28, &mut rng)).collect();
        assert!(draws.iter().all(|d| d.dx.abs() <= 2 && d.dy.abs() <= 2));
        for v in -2..=2 {
            assert!(draws.iter().any(|d| d.dx == v), "dx {v} never drawn");
            assert!(draws.iter().any(|d| d.dy == v), "dy {v} never drawn");
        }
        let mirrored = draws.iter().filter(|d| d.mirror).count();
        assert!(
            (800..1200).contains(&mirrored),
            "{mirrored} of 2000 mirrored"
        );
    }

    #[test]
    fn a_shift_never_exceeds_the_image() {
        let augment = Augment {
            flip: 0.0,
            shift: 100,
        };
        let mut rng = Generator::seed_from_u64(2);
        for _ in 0..200 {
            let d = augment.draw(1, 5, &mut rng);
            assert_eq!(d.dy, 0, "a one-row image cannot move vertically");
            assert!(d.dx.abs() <= 4);
            assert!(!d.mirror);
        }
    }

    #[test]
    fn identity_settings() {
        assert!(Augment::default().is_identity());
        assert!(
            !Augment {
                flip: 0.5,
                shift: 0
            }
            .is_identity()
        );
        assert!(
            !Augment {
                flip: 0.0,
                shift: 1
            }
            .is_identity()
        );
    }
}
