//! Pictures: where a `--plot PATH` goes and in which format, the font their text is laid
//! out with, and rendering into memory so the file is written atomically like every other
//! output. What is drawn lives in `curves.rs` (learning curves of one run or of several
//! records) and `heatmap.rs` (a sweep's grid); both draw through plotters onto any backend.

pub mod curves;
pub mod heatmap;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, RGBColor, register_font};

/// The family every picture's text uses. An SVG names it in `font-family`, so a viewer
/// without the font we measured with still picks a close one.
pub const FONT: &str = "sans-serif";

/// Where nnc looks for a TrueType font, after `$NNC_FONT`: DejaVu Sans as Debian, Arch and
/// Fedora install it, then Liberation Sans, then the usual macOS and Windows fonts.
const FONT_PATHS: [&str; 8] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

#[derive(Debug, Clone, thiserror::Error)]
pub enum PlotError {
    #[error(
        "no font to write the picture's text with: looked in {looked}; install DejaVu Sans \
         (Debian and Ubuntu: `apt-get install fonts-dejavu-core`) or set NNC_FONT to a .ttf file"
    )]
    NoFont { looked: String },
    #[error("{} is not a TrueType font nnc can read (set NNC_FONT to another .ttf file)", path.display())]
    BadFont { path: PathBuf },
    #[error("cannot draw the picture: {0}")]
    Draw(String),
}

/// A picture's format, from the extension of its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    Svg,
    Png,
}

/// Where `--plot` writes, checked as soon as the flags are read.
#[derive(Debug, Clone)]
pub struct PlotTarget {
    pub path: PathBuf,
    pub format: PlotFormat,
}

impl PlotTarget {
    /// The format from the extension: `.svg` or `.png` (any case), else a usage error.
    pub fn parse(path: &Path) -> Result<PlotTarget, crate::Error> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let format = match extension.as_deref() {
            Some("svg") => PlotFormat::Svg,
            Some("png") => PlotFormat::Png,
            _ => {
                return Err(crate::Error::Usage(format!(
                    "`--plot {}`: the picture's format comes from its extension, `.svg` or `.png`",
                    path.display()
                )));
            }
        };
        Ok(PlotTarget {
            path: path.to_owned(),
            format,
        })
    }

    /// Fails now, not after training, if the file could not be written or the text could
    /// not be laid out.
    pub fn check(&self) -> Result<(), crate::Error> {
        crate::atomic_file::check_writable(&self.path).map_err(|source| crate::Error::Write {
            path: self.path.clone(),
            source,
        })?;
        load_font()?;
        Ok(())
    }

    /// Renders `picture` in memory and writes it atomically.
    pub fn save(&self, picture: &impl Picture) -> Result<(), crate::Error> {
        let bytes = render(self.format, picture)?;
        crate::atomic_file::write(&self.path, &bytes).map_err(|source| crate::Error::Write {
            path: self.path.clone(),
            source,
        })
    }
}

/// Something drawable at a fixed size in pixels, on any plotters backend.
pub trait Picture {
    /// `(width, height)` in pixels (SVG user units).
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), PlotError>;
}

/// Any plotters error as ours; the message says what went wrong (a font, a coordinate).
pub fn draw_error(err: impl std::fmt::Display) -> PlotError {
    PlotError::Draw(err.to_string())
}

/// The picture's bytes: SVG text, or an 8-bit RGB PNG.
pub fn render(format: PlotFormat, picture: &impl Picture) -> Result<Vec<u8>, PlotError> {
    load_font()?;
    let (width, height) = picture.size();
    match format {
        PlotFormat::Svg => {
            let mut text = String::new();
            {
                let root = SVGBackend::with_string(&mut text, (width, height)).into_drawing_area();
                root.fill(&WHITE).map_err(draw_error)?;
                picture.draw(&root)?;
                root.present().map_err(draw_error)?;
            }
            Ok(text.into_bytes())
        }
        PlotFormat::Png => {
            let mut rgb = vec![0u8; width as usize * height as usize * 3];
            {
                let root =
                    BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
                root.fill(&WHITE).map_err(draw_error)?;
                picture.draw(&root)?;
                root.present().map_err(draw_error)?;
            }
            let mut bytes = Vec::new();
            let mut encoder = png::Encoder::new(&mut bytes, width, height);
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let mut writer = encoder.write_header().map_err(draw_error)?;
            writer.write_image_data(&rgb).map_err(draw_error)?;
            writer.finish().map_err(draw_error)?;
            Ok(bytes)
        }
    }
}

/// Registers a system TrueType font as [`FONT`], once per process. plotters lays text out
/// (label widths, legend boxes) with it for SVG as well as PNG, so both need it.
pub fn load_font() -> Result<(), PlotError> {
    static LOADED: OnceLock<Result<(), PlotError>> = OnceLock::new();
    LOADED.get_or_init(find_and_register_font).clone()
}

fn find_and_register_font() -> Result<(), PlotError> {
    let from_env = std::env::var_os("NNC_FONT").map(PathBuf::from);
    let candidates: Vec<PathBuf> = from_env
        .into_iter()
        .chain(FONT_PATHS.iter().map(PathBuf::from))
        .collect();
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        return Err(PlotError::NoFont {
            looked: looked.join(", "),
        });
    };
    let bad = || PlotError::BadFont { path: path.clone() };
    let bytes = std::fs::read(path).map_err(|_| bad())?;
    // plotters keeps registered fonts for the life of the process and wants `'static`
    // bytes; this runs once per process (see `load_font`), so the leak is one font file.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    register_font(FONT, FontStyle::Normal, bytes).map_err(|_| bad())
}

/// Tableau's ten colours: distinct, and readable on white.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The `i`-th series colour, cycling.
pub fn series_color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Width and height in pixels of `text` at `size` in [`FONT`] (after [`load_font`]).
pub fn text_size(text: &str, size: f64) -> Result<(u32, u32), PlotError> {
    (FONT, size).into_font().box_size(text).map_err(draw_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_comes_from_the_extension() {
        let format = |p: &str| PlotTarget::parse(Path::new(p)).map(|t| t.format);
        assert_eq!(format("a/b.svg").unwrap(), PlotFormat::Svg);
        assert_eq!(format("B.PNG").unwrap(), PlotFormat::Png);
        assert!(matches!(format("x.txt"), Err(crate::Error::Usage(_))));
        assert!(matches!(format("noextension"), Err(crate::Error::Usage(_))));
    }
}
