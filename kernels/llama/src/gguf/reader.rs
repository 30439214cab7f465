//! A GGUF reader for the tests: parses what [`super::GgufWriter`] writes (and checks the
//! layout rules on the way) so the writer's output can be compared field by field.

use super::{ALIGNMENT, MetaValue, value_type as vt};

#[derive(Debug)]
pub struct ReadTensor {
    pub name: String,
    pub dims: Vec<u64>,
    pub ggml_type: u32,
    pub offset: u64,
}

#[derive(Debug)]
pub struct ReadFile {
    pub version: u32,
    pub metadata: Vec<(String, MetaValue)>,
    pub tensors: Vec<ReadTensor>,
    /// Where the data section starts (a multiple of the alignment).
    pub data_start: usize,
    pub bytes: Vec<u8>,
}

impl ReadFile {
    pub fn meta(&self, key: &str) -> Option<&MetaValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn tensor(&self, name: &str) -> Option<&ReadTensor> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The raw bytes of a tensor, `len` long.
    pub fn data(&self, t: &ReadTensor, len: usize) -> &[u8] {
        let start = self.data_start + t.offset as usize;
        &self.bytes[start..start + len]
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        s
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take(4).try_into().unwrap())
    }
    fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.take(4).try_into().unwrap())
    }
    fn f32(&mut self) -> f32 {
        f32::from_le_bytes(self.take(4).try_into().unwrap())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take(8).try_into().unwrap())
    }
    fn string(&mut self) -> String {
        let n = self.u64() as usize;
        String::from_utf8(self.take(n).to_vec()).unwrap()
    }
    fn value(&mut self, ty: u32) -> MetaValue {
        match ty {
            vt::U32 => MetaValue::U32(self.u32()),
            vt::I32 => MetaValue::I32(self.i32()),
            vt::F32 => MetaValue::F32(self.f32()),
            vt::BOOL => MetaValue::Bool(self.take(1)[0] != 0),
            vt::STRING => MetaValue::Str(self.string()),
            vt::ARRAY => {
                let elem = self.u32();
                let n = self.u64() as usize;
                match elem {
                    vt::STRING => MetaValue::StrArray((0..n).map(|_| self.string()).collect()),
                    vt::F32 => MetaValue::F32Array((0..n).map(|_| self.f32()).collect()),
                    vt::I32 => MetaValue::I32Array((0..n).map(|_| self.i32()).collect()),
                    other => panic!("array of type {other} not expected"),
                }
            }
            other => panic!("value type {other} not expected"),
        }
    }
}

/// Parses a whole file; panics on anything malformed (this is test code).
pub fn read(bytes: Vec<u8>) -> ReadFile {
    let mut c = Cursor {
        bytes: &bytes,
        pos: 0,
    };
    assert_eq!(c.take(4), b"GGUF", "magic");
    let version = c.u32();
    let n_tensors = c.u64() as usize;
    let n_kv = c.u64() as usize;
    let mut metadata = Vec::with_capacity(n_kv);
    for _ in 0..n_kv {
        let key = c.string();
        let ty = c.u32();
        metadata.push((key, c.value(ty)));
    }
    let mut tensors = Vec::with_capacity(n_tensors);
    for _ in 0..n_tensors {
        let name = c.string();
        let n_dims = c.u32() as usize;
        let dims = (0..n_dims).map(|_| c.u64()).collect();
        let ggml_type = c.u32();
        let offset = c.u64();
        assert_eq!(
            offset % ALIGNMENT,
            0,
            "tensor {name} offset {offset} not aligned"
        );
        tensors.push(ReadTensor {
            name,
            dims,
            ggml_type,
            offset,
        });
    }
    let data_start = (c.pos as u64).div_ceil(ALIGNMENT) * ALIGNMENT;
    assert!(
        bytes[c.pos..data_start as usize].iter().all(|b| *b == 0),
        "padding before the data section is zeros"
    );
    let data_start = data_start as usize;
    ReadFile {
        version,
        metadata,
        tensors,
        data_start,
        bytes,
    }
}
