use super::reader::read;
use super::*;

fn written(w: &GgufWriter) -> Vec<u8> {
    let mut out = Vec::new();
    w.write_to(&mut out).unwrap();
    out
}

#[test]
fn header_and_one_kv_are_laid_out_byte_by_byte() {
    let mut w = GgufWriter::new();
    w.meta("a", MetaValue::U32(7));
    let b = written(&w);
    let mut expected = Vec::new();
    expected.extend_from_slice(b"GGUF");
    expected.extend_from_slice(&3u32.to_le_bytes());
    expected.extend_from_slice(&0u64.to_le_bytes()); // tensors
    expected.extend_from_slice(&1u64.to_le_bytes()); // metadata
    expected.extend_from_slice(&1u64.to_le_bytes()); // key length
    expected.push(b'a');
    expected.extend_from_slice(&4u32.to_le_bytes()); // UINT32
    expected.extend_from_slice(&7u32.to_le_bytes());
    // 33 bytes so far, padded to the 32-byte alignment.
    expected.resize(64, 0);
    assert_eq!(b, expected);
}

#[test]
fn metadata_and_tensor_infos_round_trip() {
    let mut w = GgufWriter::new();
    w.meta("general.architecture", MetaValue::Str("llama".into()));
    w.meta("x.i32", MetaValue::I32(-3));
    w.meta("x.f32", MetaValue::F32(1e-5));
    w.meta("x.bool", MetaValue::Bool(true));
    w.meta(
        "x.tokens",
        MetaValue::StrArray(vec!["<unk>".into(), "é".into()]),
    );
    w.meta("x.scores", MetaValue::F32Array(vec![0.0, -1.5]));
    w.meta("x.types", MetaValue::I32Array(vec![2, 6]));
    let norm = [1.0f32, 2.0, 3.0];
    let mat: Vec<f32> = (0..64).map(|i| i as f32 / 8.0 - 4.0).collect();
    w.tensor("norm", &[3], TensorType::F32, &norm);
    w.tensor("mat_f16", &[32, 2], TensorType::F16, &mat);
    w.tensor("mat_q8", &[32, 2], TensorType::Q8_0, &mat);

    let f = read(written(&w));
    assert_eq!(f.version, 3);
    assert_eq!(f.metadata.len(), 7);
    assert_eq!(
        f.meta("general.architecture"),
        Some(&MetaValue::Str("llama".into()))
    );
    assert_eq!(f.meta("x.i32"), Some(&MetaValue::I32(-3)));
    assert_eq!(f.meta("x.f32"), Some(&MetaValue::F32(1e-5)));
    assert_eq!(f.meta("x.bool"), Some(&MetaValue::Bool(true)));
    assert_eq!(
        f.meta("x.tokens"),
        Some(&MetaValue::StrArray(vec!["<unk>".into(), "é".into()]))
    );
    assert_eq!(
        f.meta("x.scores"),
        Some(&MetaValue::F32Array(vec![0.0, -1.5]))
    );
    assert_eq!(f.meta("x.types"), Some(&MetaValue::I32Array(vec![2, 6])));

    assert_eq!(f.data_start % 32, 0);
    let n = f.tensor("norm").unwrap();
    assert_eq!(
        (n.dims.as_slice(), n.ggml_type, n.offset),
        (&[3u64][..], 0, 0)
    );
    let got: Vec<f32> = f
        .data(n, 12)
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(got, norm);

    // 12 bytes of F32 then padding: the F16 tensor starts at 32, its 128 bytes end at 160.
    let h = f.tensor("mat_f16").unwrap();
    assert_eq!(
        (h.dims.as_slice(), h.ggml_type, h.offset),
        (&[32u64, 2][..], 1, 32)
    );
    let got: Vec<f32> = f
        .data(h, 128)
        .chunks(2)
        .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
        .collect();
    assert_eq!(got, mat, "multiples of 1/8 in [-4, 4) are exact in f16");

    let q = f.tensor("mat_q8").unwrap();
    assert_eq!(
        (q.dims.as_slice(), q.ggml_type, q.offset),
        (&[32u64, 2][..], 8, 160)
    );
    assert_eq!(f.data(q, 68), quantize_q8_0(&mat).as_slice());
    assert_eq!(
        f.bytes.len(),
        f.data_start + 160 + 96,
        "68 bytes padded to 96"
    );
}

#[test]
fn q8_0_blocks_match_hand_computed_values() {
    // Block 1: max |x| = 127, so the scale is 1 and values round half away from zero.
    let mut b1 = [0.0f32; 32];
    b1[..6].copy_from_slice(&[127.0, -2.5, 2.5, 0.49, -0.51, -127.0]);
    // Block 2: max |x| = 63.5, scale 0.5: 1.25 / 0.5 = 2.5 rounds to 3, -63.5 to -127.
    let mut b2 = [0.0f32; 32];
    b2[..3].copy_from_slice(&[1.25, -63.5, 0.2]);
    // Block 3: all zero: scale 0 and zero quants (no division by zero).
    let b3 = [0.0f32; 32];
    let values: Vec<f32> = b1.iter().chain(&b2).chain(&b3).copied().collect();
    let q = quantize_q8_0(&values);
    assert_eq!(q.len(), 3 * 34);

    let mut e1 = vec![
        0x00,
        0x3c,
        127,
        (-3i8) as u8,
        3,
        0,
        (-1i8) as u8,
        (-127i8) as u8,
    ];
    e1.resize(34, 0);
    let mut e2 = vec![0x00, 0x38, 3, (-127i8) as u8, 0];
    e2.resize(34, 0);
    let e3 = vec![0u8; 34];
    assert_eq!(&q[..34], e1.as_slice());
    assert_eq!(&q[34..68], e2.as_slice());
    assert_eq!(&q[68..], e3.as_slice());
}

#[test]
fn f16_conversion_rounds_to_nearest_even() {
    let cases: [(f32, u16); 12] = [
        (0.0, 0x0000),
        (-0.0, 0x8000),
        (1.0, 0x3c00),
        (-2.0, 0xc000),
        (65504.0, 0x7bff),            // largest finite
        (65520.0, 0x7c00),            // rounds up to infinity
        (1.0 + 1.0 / 2048.0, 0x3c00), // halfway: ties to even (down)
        (1.0 + 3.0 / 2048.0, 0x3c02), // halfway: ties to even (up)
        (6.103_515_6e-5, 0x0400),     // smallest normal 2^-14
        (5.960_464_5e-8, 0x0001),     // smallest subnormal 2^-24
        (2.980_232_2e-8, 0x0000),     // 2^-25: halfway to the smallest subnormal, ties to zero
        (f32::INFINITY, 0x7c00),
    ];
    for (x, h) in cases {
        assert_eq!(f32_to_f16(x), h, "f32_to_f16({x:e})");
    }
    assert!(f16_to_f32(f32_to_f16(f32::NAN)).is_nan());
    // Every finite f16 converts to f32 and back unchanged.
    for h in 0u16..=0xffff {
        if h & 0x7c00 != 0x7c00 {
            assert_eq!(f32_to_f16(f16_to_f32(h)), h, "{h:#06x}");
        }
    }
}
