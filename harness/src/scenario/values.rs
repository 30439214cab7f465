//! Dotted-path access to TOML tables and value equality that treats `1` and `1.0` as equal.

/// The value at dotted `path` (`service.mean`).
pub fn get_path<'a>(table: &'a toml::Table, path: &str) -> Option<&'a toml::Value> {
    let mut parts = path.split('.');
    let mut cur = table.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_table()?.get(p)?;
    }
    Some(cur)
}

/// Sets the value at dotted `path`, creating (or replacing non-table) intermediate tables.
pub fn set_path(table: &mut toml::Table, path: &str, value: toml::Value) {
    let parts: Vec<&str> = path.split('.').collect();
    let mut cur = table;
    for p in &parts[..parts.len() - 1] {
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        cur = entry.as_table_mut().expect("just made a table");
    }
    cur.insert(parts[parts.len() - 1].to_string(), value);
}

/// Equality with integers and floats compared numerically.
pub fn values_equal(a: &toml::Value, b: &toml::Value) -> bool {
    use toml::Value::*;
    match (a, b) {
        (Integer(x), Float(y)) | (Float(y), Integer(x)) => (*x as f64) == *y,
        (Array(x), Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Table(x), Table(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

/// A short human form of a value (`0.5`, `"exp"`, `{dist = "exp", mean = 1.0}`).
pub fn short(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Table(t) => {
            let inner: Vec<String> = t.iter().map(|(k, v)| format!("{k}={}", short(v))).collect();
            format!("{{{}}}", inner.join(", "))
        }
        other => other.to_string(),
    }
}

/// Converts a TOML value to JSON (datetimes become strings).
pub fn to_json(v: &toml::Value) -> serde_json::Value {
    match v {
        toml::Value::String(s) => serde_json::Value::String(s.clone()),
        toml::Value::Integer(i) => serde_json::Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(serde_json::Value::Number)
            .unwrap_or_else(|| serde_json::Value::String(f.to_string())),
        toml::Value::Boolean(b) => serde_json::Value::Bool(*b),
        toml::Value::Datetime(d) => serde_json::Value::String(d.to_string()),
        toml::Value::Array(a) => serde_json::Value::Array(a.iter().map(to_json).collect()),
        toml::Value::Table(t) => {
            serde_json::Value::Object(t.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_get_and_set() {
        let mut t: toml::Table = "a = 1\n[service]\ndist = \"exp\"\nmean = 1.0"
            .parse()
            .unwrap();
        assert_eq!(get_path(&t, "service.dist").unwrap().as_str(), Some("exp"));
        set_path(&mut t, "service.mean", toml::Value::Float(2.0));
        set_path(&mut t, "x.y", toml::Value::Integer(3));
        assert_eq!(get_path(&t, "service.mean").unwrap().as_float(), Some(2.0));
        assert_eq!(get_path(&t, "x.y").unwrap().as_integer(), Some(3));
        assert!(get_path(&t, "a.b").is_none());
    }

    #[test]
    fn ints_equal_floats() {
        assert!(values_equal(
            &toml::Value::Integer(8),
            &toml::Value::Float(8.0)
        ));
        assert!(!values_equal(
            &toml::Value::Integer(8),
            &toml::Value::Float(8.5)
        ));
    }
}
