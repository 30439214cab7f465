//! `results.parquet`: the same rows as the CSV, with the parquet crate's low-level column
//! writer (no Arrow: it would add minutes of compile time), uncompressed. The `seed` column is
//! INT64 holding the u64 seed's bits (read it back with `as u64`).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

use super::{ReportError, io_err};
use crate::summary::ResultRow;

const SCHEMA: &str = "message results {
    REQUIRED INT64 point;
    REQUIRED INT32 replication;
    REQUIRED INT64 seed;
    REQUIRED BYTE_ARRAY metric (UTF8);
    REQUIRED DOUBLE value;
    REQUIRED BYTE_ARRAY unit (UTF8);
}";

/// Writes the rows as one row group.
pub(crate) fn write_rows_parquet(path: &Path, rows: &[ResultRow]) -> Result<(), ReportError> {
    let perr = |e: parquet::errors::ParquetError| ReportError::Parquet {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let schema = Arc::new(parse_message_type(SCHEMA).map_err(perr)?);
    let props = Arc::new(WriterProperties::builder().build());
    let file = File::create(path).map_err(io_err(path))?;
    let mut writer = SerializedFileWriter::new(file, schema, props).map_err(perr)?;
    let mut group = writer.next_row_group().map_err(perr)?;
    let mut column = 0;
    while let Some(mut col) = group.next_column().map_err(perr)? {
        match column {
            0 => {
                let v: Vec<i64> = rows.iter().map(|r| r.point as i64).collect();
                col.typed::<Int64Type>().write_batch(&v, None, None)
            }
            1 => {
                let v: Vec<i32> = rows.iter().map(|r| r.replication as i32).collect();
                col.typed::<Int32Type>().write_batch(&v, None, None)
            }
            2 => {
                let v: Vec<i64> = rows.iter().map(|r| r.seed as i64).collect();
                col.typed::<Int64Type>().write_batch(&v, None, None)
            }
            3 => {
                let v: Vec<ByteArray> = rows
                    .iter()
                    .map(|r| ByteArray::from(r.metric.as_str()))
                    .collect();
                col.typed::<ByteArrayType>().write_batch(&v, None, None)
            }
            4 => {
                let v: Vec<f64> = rows.iter().map(|r| r.value).collect();
                col.typed::<DoubleType>().write_batch(&v, None, None)
            }
            _ => {
                let v: Vec<ByteArray> = rows
                    .iter()
                    .map(|r| ByteArray::from(r.unit.as_str()))
                    .collect();
                col.typed::<ByteArrayType>().write_batch(&v, None, None)
            }
        }
        .map_err(perr)?;
        col.close().map_err(perr)?;
        column += 1;
    }
    group.close().map_err(perr)?;
    writer.close().map_err(perr)?;
    Ok(())
}

/// Writes a CSV table (a header line, then rows of comma-separated fields) as Parquet: a
/// column whose every value is an integer becomes INT64, any other UTF8; one row group. What
/// `lab <tool> ... --out FILE.parquet` writes for a tool that writes CSV.
pub(crate) fn write_csv_table_parquet(path: &Path, csv: &str) -> Result<(), ReportError> {
    let perr = |e: parquet::errors::ParquetError| ReportError::Parquet {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split(',')
        .map(|c| c.trim().to_string())
        .collect();
    let mut columns: Vec<Vec<String>> = vec![Vec::new(); header.len()];
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        for (i, col) in columns.iter_mut().enumerate() {
            col.push(fields.get(i).map_or("", |f| f.trim()).to_string());
        }
    }
    let ints: Vec<bool> = columns
        .iter()
        .map(|c| c.iter().all(|v| v.parse::<i64>().is_ok()))
        .collect();
    let fields: Vec<String> = header
        .iter()
        .zip(&ints)
        .map(|(name, &int)| {
            let name: String = name
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                .collect();
            if int {
                format!("REQUIRED INT64 {name};")
            } else {
                format!("REQUIRED BYTE_ARRAY {name} (UTF8);")
            }
        })
        .collect();
    let schema = format!("message table {{ {} }}", fields.join(" "));
    let schema = Arc::new(parse_message_type(&schema).map_err(perr)?);
    let props = Arc::new(WriterProperties::builder().build());
    let file = File::create(path).map_err(io_err(path))?;
    let mut writer = SerializedFileWriter::new(file, schema, props).map_err(perr)?;
    let mut group = writer.next_row_group().map_err(perr)?;
    let mut i = 0;
    while let Some(mut col) = group.next_column().map_err(perr)? {
        if ints[i] {
            let v: Vec<i64> = columns[i].iter().map(|x| x.parse().unwrap_or(0)).collect();
            col.typed::<Int64Type>().write_batch(&v, None, None)
        } else {
            let v: Vec<ByteArray> = columns[i]
                .iter()
                .map(|x| ByteArray::from(x.as_str()))
                .collect();
            col.typed::<ByteArrayType>().write_batch(&v, None, None)
        }
        .map_err(perr)?;
        col.close().map_err(perr)?;
        i += 1;
    }
    group.close().map_err(perr)?;
    writer.close().map_err(perr)?;
    Ok(())
}
