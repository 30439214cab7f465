use super::*;
use crate::gguf::reader::{ReadFile, read};

fn small(n_layer: u32, layer_scale: f32) -> ModelSpec {
    ModelSpec {
        n_layer,
        n_embd: 64,
        n_ff: 96,
        n_head: 4,
        n_head_kv: 2,
        n_vocab: 300,
        n_ctx_train: 256,
        weight_type: TensorType::Q8_0,
        shared_seed: 5,
        block_seed: 6,
        layer_scale,
        embd_std: 1.0,
        output_std: 0.02,
    }
}

fn file(spec: &ModelSpec) -> ReadFile {
    let mut b = Vec::new();
    spec.to_gguf("t").write_to(&mut b).unwrap();
    read(b)
}

fn tensor_bytes<'a>(f: &'a ReadFile, name: &str, ty: TensorType) -> &'a [u8] {
    let t = f.tensor(name).unwrap_or_else(|| panic!("{name} missing"));
    let n: u64 = t.dims.iter().product();
    f.data(t, ty.byte_len(n as usize))
}

#[test]
fn vocabulary_is_spm_with_byte_tokens() {
    let v = Vocab::new(400);
    assert_eq!(v.tokens.len(), 400);
    assert_eq!(v.scores.len(), 400);
    assert_eq!(v.types.len(), 400);
    assert_eq!(&v.tokens[..3], ["<unk>", "<s>", "</s>"]);
    assert_eq!(&v.types[..3], [TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_CONTROL]);
    assert_eq!(v.tokens[3], "<0x00>");
    assert_eq!(v.tokens[3 + 0x0A], "<0x0A>");
    assert_eq!(v.tokens[258], "<0xFF>");
    assert!(v.types[3..259].iter().all(|t| *t == TOKEN_BYTE));
    assert_eq!(&v.tokens[259..263], ["a", "\u{2581}a", "b", "\u{2581}b"]);
    assert_eq!(
        v.tokens[259 + 52],
        "aa",
        "two-letter pieces follow the 26 letters"
    );
    let unique: std::collections::BTreeSet<_> = v.tokens.iter().collect();
    assert_eq!(unique.len(), 400);
    assert!(v.scores[259..].windows(2).all(|w| w[0] > w[1]));
    // Exactly the base vocabulary is allowed too.
    assert_eq!(Vocab::new(BASE_VOCAB).tokens.len(), BASE_VOCAB as usize);
}

#[test]
fn model_file_has_llama_metadata_and_tensor_shapes() {
    let spec = small(2, 0.01);
    let f = file(&spec);
    let u = |k: &str| match f.meta(k) {
        Some(MetaValue::U32(v)) => *v,
        other => panic!("{k}: {other:?}"),
    };
    assert_eq!(
        f.meta("general.architecture"),
        Some(&MetaValue::Str("llama".into()))
    );
    assert_eq!(
        f.meta("tokenizer.ggml.model"),
        Some(&MetaValue::Str("llama".into()))
    );
    assert_eq!(u("llama.block_count"), 2);
    assert_eq!(u("llama.embedding_length"), 64);
    assert_eq!(u("llama.feed_forward_length"), 96);
    assert_eq!(u("llama.attention.head_count"), 4);
    assert_eq!(u("llama.attention.head_count_kv"), 2);
    assert_eq!(u("llama.rope.dimension_count"), 16);
    assert_eq!(u("llama.context_length"), 256);
    assert_eq!(u("tokenizer.ggml.bos_token_id"), 1);
    match f.meta("tokenizer.ggml.tokens") {
        Some(MetaValue::StrArray(t)) => assert_eq!(t.len(), 300),
        other => panic!("tokens: {other:?}"),
    }

    let dims = |name: &str| f.tensor(name).unwrap().dims.clone();
    assert_eq!(f.tensors.len(), 3 + 2 * 9);
    assert_eq!(dims("token_embd.weight"), [64, 300]);
    assert_eq!(dims("output.weight"), [64, 300]);
    assert_eq!(dims("output_norm.weight"), [64]);
    assert_eq!(dims("blk.1.attn_q.weight"), [64, 64]);
    assert_eq!(dims("blk.1.attn_k.weight"), [64, 32], "2 KV heads of 16");
    assert_eq!(dims("blk.1.attn_v.weight"), [64, 32]);
    assert_eq!(dims("blk.1.attn_output.weight"), [64, 64]);
    assert_eq!(dims("blk.1.ffn_gate.weight"), [64, 96]);
    assert_eq!(dims("blk.1.ffn_up.weight"), [64, 96]);
    assert_eq!(dims("blk.1.ffn_down.weight"), [96, 64]);
    assert_eq!(
        f.tensor("blk.0.attn_norm.weight").unwrap().ggml_type,
        0,
        "norms are F32"
    );
    assert_eq!(
        f.tensor("blk.0.attn_q.weight").unwrap().ggml_type,
        8,
        "Q8_0"
    );
    let elements: u64 = f
        .tensors
        .iter()
        .map(|t| t.dims.iter().product::<u64>())
        .sum();
    assert_eq!(elements, spec.n_params());
}

#[test]
fn draft_shares_embeddings_output_and_first_blocks_with_target() {
    let target = small(3, 0.01);
    let draft = ModelSpec {
        n_layer: 1,
        ..target.clone()
    };
    let (ft, fd) = (file(&target), file(&draft));
    let q = TensorType::Q8_0;
    for name in [
        "token_embd.weight",
        "output.weight",
        "blk.0.attn_q.weight",
        "blk.0.ffn_down.weight",
    ] {
        assert_eq!(
            tensor_bytes(&ft, name, q),
            tensor_bytes(&fd, name, q),
            "{name}"
        );
    }
    assert!(fd.tensor("blk.1.attn_q.weight").is_none());
    assert_ne!(
        tensor_bytes(&ft, "blk.0.attn_q.weight", q),
        tensor_bytes(&ft, "blk.1.attn_q.weight", q)
    );

    // The layer scale changes the blocks only.
    let louder = file(&ModelSpec {
        layer_scale: 0.02,
        ..target.clone()
    });
    assert_eq!(
        tensor_bytes(&ft, "output.weight", q),
        tensor_bytes(&louder, "output.weight", q)
    );
    assert_ne!(
        tensor_bytes(&ft, "blk.0.attn_q.weight", q),
        tensor_bytes(&louder, "blk.0.attn_q.weight", q)
    );
}

#[test]
fn f32_weights_have_the_requested_scale() {
    let spec = ModelSpec {
        weight_type: TensorType::F32,
        layer_scale: 0.02,
        ..small(1, 0.0)
    };
    let f = file(&spec);
    let w: Vec<f64> = tensor_bytes(&f, "blk.0.ffn_up.weight", TensorType::F32)
        .chunks(4)
        .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap())))
        .collect();
    let n = w.len() as f64;
    let mean = w.iter().sum::<f64>() / n;
    let var = w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    let sd = 0.02;
    // Mean within 4 standard errors of 0; variance within 4 of sd² (normal: var of s² is 2σ⁴/n).
    assert!(mean.abs() < 4.0 * sd / n.sqrt(), "mean {mean}");
    assert!(
        (var - sd * sd).abs() < 4.0 * sd * sd * (2.0 / n).sqrt(),
        "var {var}"
    );
}

#[test]
fn invalid_specs_name_the_field() {
    let field = |s: ModelSpec| match s.validate("target") {
        Err(KernelError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        field(ModelSpec {
            n_head: 5,
            ..small(1, 0.0)
        }),
        "target.n_head"
    );
    assert_eq!(
        field(ModelSpec {
            n_head_kv: 3,
            ..small(1, 0.0)
        }),
        "target.n_head_kv"
    );
    assert_eq!(
        field(ModelSpec {
            n_ff: 100,
            ..small(1, 0.0)
        }),
        "target.n_ff"
    );
    assert_eq!(
        field(ModelSpec {
            n_vocab: 258,
            ..small(1, 0.0)
        }),
        "target.n_vocab"
    );
    assert_eq!(
        field(ModelSpec {
            n_layer: 0,
            ..small(1, 0.0)
        }),
        "target.n_layer"
    );
    assert_eq!(
        field(ModelSpec {
            layer_scale: f32::NAN,
            ..small(1, 0.0)
        }),
        "target.layer_scale"
    );
    let mut pair = TinyPair {
        target: small(2, 0.0),
        draft: small(1, 0.0),
    };
    pair.draft.n_vocab = 512;
    assert!(
        matches!(pair.validate(), Err(KernelError::Invalid { field, .. }) if field == "draft.n_vocab")
    );
    assert!(TinyPair::ci(CI_AGREEING_LAYER_SCALE).validate().is_ok());
}

#[test]
fn ensure_pair_writes_once_per_spec() {
    let dir = tempfile::tempdir().unwrap();
    let pair = TinyPair {
        target: small(2, 0.004),
        draft: small(1, 0.004),
    };
    let p = ensure_pair(dir.path(), &pair).unwrap();
    let bytes = std::fs::read(&p.target).unwrap();
    let f = read(bytes.clone());
    assert_eq!(f.tensors.len(), 3 + 2 * 9);
    let modified = std::fs::metadata(&p.target).unwrap().modified().unwrap();
    assert_eq!(ensure_pair(dir.path(), &pair).unwrap(), p);
    assert_eq!(
        std::fs::metadata(&p.target).unwrap().modified().unwrap(),
        modified,
        "not rewritten"
    );

    let other = TinyPair {
        target: small(2, 0.02),
        draft: small(1, 0.02),
    };
    let q = ensure_pair(dir.path(), &other).unwrap();
    assert_ne!(q.target, p.target, "a changed spec gets a new file");
    assert_ne!(std::fs::read(&q.target).unwrap(), bytes);
    // Regeneration is deterministic.
    let again = tempfile::tempdir().unwrap();
    let r = ensure_pair(again.path(), &pair).unwrap();
    assert_eq!(std::fs::read(&r.target).unwrap(), bytes);
    assert_eq!(r.target.file_name(), p.target.file_name());
}
