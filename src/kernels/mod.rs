//! SIMD kernels over slices. STUB.
