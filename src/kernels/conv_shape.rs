//! The geometry of a 2-D convolution: sizes, strides, padding, and the output size they
//! give. The kernels that use it live in [`super::conv`] (products), [`super::im2col`]
//! (copies) and [`super::conv_direct`] (one input channel).

/// How an input is padded with zeros, the same on both axes (as PyTorch's `padding=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// `pad` rows (columns) on every side.
    Each(usize),
    /// `begin` rows above and columns to the left, `end` below and to the right.
    Split { begin: usize, end: usize },
    /// An output of `⌈len / stride⌉` pixels: total padding `max((out − 1)·stride + k −
    /// len, 0)`, the smaller half first. At stride 1 that is PyTorch's `padding='same'`
    /// (`k − 1` in all, `(k − 1) / 2` before); at larger strides, TensorFlow's.
    Same,
}

/// The sizes of one convolution. The padding below and to the right is implied: pixels
/// a window reads past the input are 0. Build it with [`Conv2dShape::new`], which derives
/// the output size; any other consistent set of fields is also valid (`stride`,
/// `kernel` ≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2dShape {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub filters: usize,
    pub kernel: usize,
    pub stride: usize,
    /// Channels and filters are cut into this many groups; filter `f` reads only the
    /// channels of its group (`groups = channels = filters`: a depthwise convolution).
    pub groups: usize,
    /// The distance between a kernel's taps (1: adjacent pixels).
    pub dilation: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub out_height: usize,
    pub out_width: usize,
}

impl Conv2dShape {
    /// `[channels, height, width] → [filters, h', w']` with `h' = (h + pad_begin + pad_end −
    /// kernel) / stride + 1` (rounded down), one group, adjacent taps. `None` when a size
    /// or the stride is 0 or a window does not fit in the padded input.
    pub fn new(
        input: [usize; 3],
        filters: usize,
        kernel: usize,
        stride: usize,
        padding: Padding,
    ) -> Option<Self> {
        Self::grouped(input, filters, kernel, stride, padding, 1, 1)
    }

    /// [`Conv2dShape::new`] with `groups` (dividing both `channels` and `filters`) and
    /// `dilation`: the window spans the dilated kernel, `dilation·(kernel − 1) + 1`
    /// pixels, as PyTorch's. `None` also when `groups` divides neither.
    pub fn grouped(
        [channels, height, width]: [usize; 3],
        filters: usize,
        kernel: usize,
        stride: usize,
        padding: Padding,
        groups: usize,
        dilation: usize,
    ) -> Option<Self> {
        if [
            channels, height, width, filters, kernel, stride, groups, dilation,
        ]
        .contains(&0)
            || !channels.is_multiple_of(groups)
            || !filters.is_multiple_of(groups)
        {
            return None;
        }
        let span = dilation.checked_mul(kernel - 1)?.checked_add(1)?;
        let axis = |len: usize| -> Option<(usize, usize)> {
            let (begin, end) = match padding {
                Padding::Each(pad) => (pad, pad),
                Padding::Split { begin, end } => (begin, end),
                Padding::Same => {
                    let out = len.div_ceil(stride);
                    let total = ((out - 1) * stride + span).saturating_sub(len);
                    (total / 2, total - total / 2)
                }
            };
            let padded = len.checked_add(begin)?.checked_add(end)?;
            let out = padded.checked_sub(span)? / stride + 1;
            Some((begin, out))
        };
        let (pad_top, out_height) = axis(height)?;
        let (pad_left, out_width) = axis(width)?;
        Some(Conv2dShape {
            channels,
            height,
            width,
            filters,
            kernel,
            stride,
            groups,
            dilation,
            pad_top,
            pad_left,
            out_height,
            out_width,
        })
    }

    /// `c·k·k`: the length of one window over every channel, the rows of a patch matrix.
    pub fn patch_len(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }

    /// `(c / groups)·k·k`: the window one filter reads, a row of the weights and the inner
    /// dimension of each group's product.
    pub fn group_patch_len(&self) -> usize {
        self.patch_len() / self.groups
    }

    /// Input channels per group.
    pub fn group_channels(&self) -> usize {
        self.channels / self.groups
    }

    /// Filters per group.
    pub fn group_filters(&self) -> usize {
        self.filters / self.groups
    }

    /// `dilation·(k − 1) + 1`: the pixels a window spans on each axis.
    pub fn span(&self) -> usize {
        self.dilation * (self.kernel - 1) + 1
    }

    /// Whether each filter reads a single channel (`groups = channels`), the depthwise
    /// convolution of MobileNets, computed by [`super::conv_depthwise`] rather than as
    /// products.
    pub fn depthwise(&self) -> bool {
        self.groups == self.channels && self.groups > 1
    }

    /// `h'·w'`.
    pub fn out_pixels(&self) -> usize {
        self.out_height * self.out_width
    }

    /// One sample's input, `c·h·w`.
    pub fn in_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// One sample's output, `filters·h'·w'`.
    pub fn out_len(&self) -> usize {
        self.filters * self.out_pixels()
    }

    /// The weights, `filters·(c / groups)·k·k`.
    pub fn weight_len(&self) -> usize {
        self.filters * self.group_patch_len()
    }

    /// Multiply-adds of the forward pass per sample (`filters·(c / groups)·k·k·h'·w'`).
    pub fn macs(&self) -> usize {
        self.filters * self.group_patch_len() * self.out_pixels()
    }

    /// Panics on a zero stride or kernel, which no constructor makes.
    pub(super) fn check(&self) {
        assert!(
            self.stride > 0 && self.kernel > 0 && self.dilation > 0 && self.groups > 0,
            "conv2d: stride, kernel, dilation and groups must be positive"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_splits_as_pytorch_does() {
        // PyTorch, padding='same' at stride 1: total k − 1, the left (top) half rounded down.
        let s = Conv2dShape::new([1, 10, 7], 1, 4, 1, Padding::Same).expect("valid");
        assert_eq!(
            (s.pad_top, s.pad_left, s.out_height, s.out_width),
            (1, 1, 10, 7)
        );
        let s = Conv2dShape::new([1, 10, 7], 1, 5, 1, Padding::Same).expect("valid");
        assert_eq!((s.pad_top, s.out_height, s.out_width), (2, 10, 7));
        // Stride 2 (TensorFlow's rule): ⌈len / 2⌉ outputs.
        let s = Conv2dShape::new([1, 10, 7], 1, 3, 2, Padding::Same).expect("valid");
        assert_eq!(
            (s.pad_top, s.pad_left, s.out_height, s.out_width),
            (0, 1, 5, 4)
        );
        assert_eq!(Conv2dShape::new([1, 4, 4], 1, 7, 1, Padding::Each(1)), None);
        assert_eq!(Conv2dShape::new([1, 4, 4], 1, 3, 0, Padding::Each(1)), None);
    }

    #[test]
    fn dilation_widens_the_window_and_groups_must_divide() {
        // A 3×3 kernel at dilation 2 spans 5×5: 9 − 5 + 1 = 5 outputs, as PyTorch's.
        let s = Conv2dShape::grouped([4, 9, 9], 8, 3, 1, Padding::Each(0), 2, 2).expect("valid");
        assert_eq!((s.span(), s.out_height, s.group_patch_len()), (5, 5, 18));
        assert_eq!(s.weight_len(), 8 * 2 * 9);
        let same = Conv2dShape::grouped([4, 9, 9], 4, 3, 1, Padding::Same, 4, 2).expect("valid");
        assert_eq!((same.pad_top, same.out_height), (2, 9));
        assert!(same.depthwise());
        assert_eq!(
            Conv2dShape::grouped([4, 9, 9], 6, 3, 1, Padding::Same, 4, 1),
            None
        );
        assert_eq!(
            Conv2dShape::grouped([6, 9, 9], 4, 3, 1, Padding::Same, 4, 1),
            None
        );
        assert_eq!(
            Conv2dShape::grouped([1, 4, 4], 1, 3, 1, Padding::Each(0), 1, 2),
            None
        );
    }
}
