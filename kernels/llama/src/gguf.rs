//! A small GGUF (version 3) writer: typed metadata, tensor infos and F32 / F16 / Q8_0 tensor
//! data, enough for llama.cpp to load a llama-architecture model.
//!
//! Layout: magic `GGUF`, version, tensor count, metadata count, the metadata key/values, the
//! tensor infos (name, dims innermost first, type, offset into the data section), zero padding
//! to [`ALIGNMENT`], then each tensor's data at its offset (each offset aligned as well).
//! All integers little-endian; strings are a u64 byte length followed by UTF-8 bytes.

use std::io::{self, Write};

/// `general.alignment`'s default; this writer never sets another.
pub const ALIGNMENT: u64 = 32;
const MAGIC: &[u8; 4] = b"GGUF";
const VERSION: u32 = 3;

/// Values per Q8_0 block (ggml's `QK8_0`).
pub const Q8_0_BLOCK: usize = 32;
/// Bytes per Q8_0 block: an f16 scale and 32 signed bytes.
pub const Q8_0_BLOCK_BYTES: usize = 2 + Q8_0_BLOCK;

/// Metadata value types, numbered as in the GGUF specification.
pub(crate) mod value_type {
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
}

/// Tensor element types this writer can encode, with ggml's type ids.
#[derive(Copy, Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorType {
    /// IEEE single precision, 4 bytes a value.
    F32,
    /// IEEE half precision, 2 bytes a value.
    F16,
    /// Blocks of 32 signed bytes sharing one f16 scale, 34 bytes a block.
    Q8_0,
}

impl TensorType {
    /// ggml's `ggml_type` number.
    pub fn ggml_id(self) -> u32 {
        match self {
            TensorType::F32 => 0,
            TensorType::F16 => 1,
            TensorType::Q8_0 => 8,
        }
    }

    /// Encoded size of `n` values (`n` a multiple of the block size for Q8_0).
    pub fn byte_len(self, n: usize) -> usize {
        match self {
            TensorType::F32 => 4 * n,
            TensorType::F16 => 2 * n,
            TensorType::Q8_0 => n / Q8_0_BLOCK * Q8_0_BLOCK_BYTES,
        }
    }

    /// Encodes `values` (row-major, innermost dimension first) as this type.
    pub fn encode(self, values: &[f32]) -> Vec<u8> {
        match self {
            TensorType::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            TensorType::F16 => values
                .iter()
                .flat_map(|v| f32_to_f16(*v).to_le_bytes())
                .collect(),
            TensorType::Q8_0 => quantize_q8_0(values),
        }
    }
}

/// One metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum MetaValue {
    /// An unsigned 32-bit integer (sizes, counts, token ids).
    U32(u32),
    /// A signed 32-bit integer.
    I32(i32),
    /// A 32-bit float (RoPE base, norm epsilon).
    F32(f32),
    /// A boolean, written as one byte.
    Bool(bool),
    /// A UTF-8 string.
    Str(String),
    /// An array of strings (the vocabulary's tokens).
    StrArray(Vec<String>),
    /// An array of 32-bit floats (the tokens' scores).
    F32Array(Vec<f32>),
    /// An array of signed 32-bit integers (the tokens' types).
    I32Array(Vec<i32>),
}

struct Tensor {
    name: String,
    dims: Vec<u64>,
    ty: TensorType,
    data: Vec<u8>,
}

/// A GGUF file under construction; metadata and tensors are written in insertion order.
#[derive(Default)]
pub struct GgufWriter {
    metadata: Vec<(String, MetaValue)>,
    tensors: Vec<Tensor>,
}

impl GgufWriter {
    /// A writer with no metadata and no tensors yet.
    pub fn new() -> GgufWriter {
        GgufWriter::default()
    }

    /// Appends the metadata pair `key` = `value`.
    pub fn meta(&mut self, key: &str, value: MetaValue) {
        self.metadata.push((key.to_string(), value));
    }

    /// Adds a tensor. `dims` are ggml's `ne`, innermost (contiguous) first, so a weight matrix
    /// that maps `n_in` to `n_out` features is `[n_in, n_out]`.
    ///
    /// # Panics
    /// If `values` does not hold the product of `dims`, or a Q8_0 tensor's innermost dimension
    /// is not a multiple of 32: both are bugs in the caller, which validates shapes first.
    pub fn tensor(&mut self, name: &str, dims: &[u64], ty: TensorType, values: &[f32]) {
        let n: u64 = dims.iter().product();
        assert_eq!(
            n as usize,
            values.len(),
            "tensor {name}: shape and data disagree"
        );
        assert!(
            ty != TensorType::Q8_0 || dims[0] % Q8_0_BLOCK as u64 == 0,
            "tensor {name}: Q8_0 rows must be a multiple of {Q8_0_BLOCK}"
        );
        self.tensors.push(Tensor {
            name: name.to_string(),
            dims: dims.to_vec(),
            ty,
            data: ty.encode(values),
        });
    }

    /// Writes the whole file.
    pub fn write_to<W: Write>(&self, out: &mut W) -> io::Result<()> {
        let mut w = CountingWriter {
            inner: out,
            written: 0,
        };
        w.write_all(MAGIC)?;
        w.write_all(&VERSION.to_le_bytes())?;
        w.write_all(&(self.tensors.len() as u64).to_le_bytes())?;
        w.write_all(&(self.metadata.len() as u64).to_le_bytes())?;
        for (key, value) in &self.metadata {
            write_str(&mut w, key)?;
            write_value(&mut w, value)?;
        }
        let mut offset = 0u64;
        for t in &self.tensors {
            write_str(&mut w, &t.name)?;
            w.write_all(&(t.dims.len() as u32).to_le_bytes())?;
            for d in &t.dims {
                w.write_all(&d.to_le_bytes())?;
            }
            w.write_all(&t.ty.ggml_id().to_le_bytes())?;
            w.write_all(&offset.to_le_bytes())?;
            offset = align(offset + t.data.len() as u64);
        }
        pad(&mut w)?;
        for t in &self.tensors {
            w.write_all(&t.data)?;
            pad(&mut w)?;
        }
        Ok(())
    }
}

fn align(n: u64) -> u64 {
    n.div_ceil(ALIGNMENT) * ALIGNMENT
}

struct CountingWriter<'a, W: Write> {
    inner: &'a mut W,
    written: u64,
}

impl<W: Write> Write for CountingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn pad<W: Write>(w: &mut CountingWriter<'_, W>) -> io::Result<()> {
    let zeros = [0u8; ALIGNMENT as usize];
    let n = align(w.written) - w.written;
    w.write_all(&zeros[..n as usize])
}

fn write_str<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    w.write_all(&(s.len() as u64).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn write_value<W: Write>(w: &mut W, value: &MetaValue) -> io::Result<()> {
    use value_type as vt;
    let array_header = |w: &mut W, elem: u32, n: usize| -> io::Result<()> {
        w.write_all(&vt::ARRAY.to_le_bytes())?;
        w.write_all(&elem.to_le_bytes())?;
        w.write_all(&(n as u64).to_le_bytes())
    };
    match value {
        MetaValue::U32(v) => {
            w.write_all(&vt::U32.to_le_bytes())?;
            w.write_all(&v.to_le_bytes())
        }
        MetaValue::I32(v) => {
            w.write_all(&vt::I32.to_le_bytes())?;
            w.write_all(&v.to_le_bytes())
        }
        MetaValue::F32(v) => {
            w.write_all(&vt::F32.to_le_bytes())?;
            w.write_all(&v.to_le_bytes())
        }
        MetaValue::Bool(v) => {
            w.write_all(&vt::BOOL.to_le_bytes())?;
            w.write_all(&[u8::from(*v)])
        }
        MetaValue::Str(s) => {
            w.write_all(&vt::STRING.to_le_bytes())?;
            write_str(w, s)
        }
        MetaValue::StrArray(items) => {
            array_header(w, vt::STRING, items.len())?;
            items.iter().try_for_each(|s| write_str(w, s))
        }
        MetaValue::F32Array(items) => {
            array_header(w, vt::F32, items.len())?;
            items.iter().try_for_each(|v| w.write_all(&v.to_le_bytes()))
        }
        MetaValue::I32Array(items) => {
            array_header(w, vt::I32, items.len())?;
            items.iter().try_for_each(|v| w.write_all(&v.to_le_bytes()))
        }
    }
}

/// ggml's reference Q8_0 quantisation (`quantize_row_q8_0_ref`): per block of 32, the scale is
/// max|x| / 127 (stored as f16) and each value is `roundf(x / scale)`, ties away from zero.
pub fn quantize_q8_0(values: &[f32]) -> Vec<u8> {
    assert_eq!(values.len() % Q8_0_BLOCK, 0, "Q8_0 needs whole blocks");
    let mut out = Vec::with_capacity(values.len() / Q8_0_BLOCK * Q8_0_BLOCK_BYTES);
    for block in values.chunks_exact(Q8_0_BLOCK) {
        let amax = block.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        out.extend_from_slice(&f32_to_f16(d).to_le_bytes());
        out.extend(block.iter().map(|v| (v * id).round() as i8 as u8));
    }
    out
}

/// IEEE 754 binary16 from binary32, rounding to nearest even (what F16C's `vcvtps2ph` and
/// ggml's conversion do); overflow gives infinity, NaN stays NaN.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x0200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    // Shift the (implicit-1) significand down to the f16 unit and round half to even; a carry
    // out of the mantissa correctly bumps the exponent (up to infinity).
    let (m, shift, base) = if e <= 0 {
        if e < -10 {
            return sign;
        }
        (mant | 0x80_0000, (14 - e) as u32, 0u32)
    } else {
        (mant, 13u32, (e as u32) << 10)
    };
    let kept = m >> shift;
    let rest = m & ((1 << shift) - 1);
    let half = 1 << (shift - 1);
    let rounded = kept + u32::from(rest > half || (rest == half && kept & 1 == 1));
    sign | (base + rounded) as u16
}

/// binary32 from binary16 (exact).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = if h & 0x8000 != 0 { -1.0f32 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let mant = f32::from(h & 0x3ff);
    match exp {
        0 => sign * mant * 2f32.powi(-24),
        0x1f if mant == 0.0 => sign * f32::INFINITY,
        0x1f => f32::NAN,
        _ => sign * (1.0 + mant / 1024.0) * 2f32.powi(exp - 15),
    }
}

#[cfg(test)]
pub(crate) mod reader;
#[cfg(test)]
mod tests;
