//! The LSTM's size by arithmetic: parameters, and the bytes of the kernel's serialized
//! formats (float32, and int8 weights with a float32 scale per output row and float32 biases).
//! The kernel serializes its trained weights and a test checks the two agree.

/// Parameters of an embedding(`e`) → `layers` × LSTM(`h`) → dense(`v`) model over `v` screens
/// (Keras's count: one bias per gate).
pub fn lstm_params(v: usize, e: usize, h: usize, layers: usize) -> usize {
    let mut n = v * e;
    let mut input = e;
    for _ in 0..layers {
        n += 4 * h * (input + h) + 4 * h;
        input = h;
    }
    n + h * v + v
}

/// The serialized header: magic, version, v, e, h, layers, format (u32 each).
pub const HEADER_BYTES: usize = 28;

/// Bytes of the float32 serialization.
pub fn fp32_bytes(v: usize, e: usize, h: usize, layers: usize) -> usize {
    HEADER_BYTES + 4 * lstm_params(v, e, h, layers)
}

/// Bytes of the int8 serialization: each matrix as int8 with one float32 scale per row
/// (embedding rows are screens; LSTM and dense rows are output units), biases float32.
pub fn int8_bytes(v: usize, e: usize, h: usize, layers: usize) -> usize {
    let matrix = |rows: usize, cols: usize| rows * cols + 4 * rows;
    let mut n = HEADER_BYTES + matrix(v, e);
    let mut input = e;
    for _ in 0..layers {
        n += matrix(4 * h, input + h) + 4 * 4 * h;
        input = h;
    }
    n + matrix(v, h) + 4 * v
}
