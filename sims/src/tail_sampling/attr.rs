//! Attribute values as pcommon holds them.

/// An attribute value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AttrValue {
    Str(String),
    Int(i64),
    Double(f64),
    Bool(bool),
}

impl AttrValue {
    /// pcommon `Value.Str()`: the string, or "" for any other type.
    pub(crate) fn str(&self) -> &str {
        match self {
            AttrValue::Str(s) => s,
            _ => "",
        }
    }

    /// pcommon `Value.Int()`: the integer, or 0 for any other type.
    pub(crate) fn int(&self) -> i64 {
        match self {
            AttrValue::Int(i) => *i,
            _ => 0,
        }
    }

    /// pcommon `Value.Bool()`: the boolean, or false for any other type.
    pub(crate) fn boolean(&self) -> bool {
        matches!(self, AttrValue::Bool(true))
    }
}
