//! `lab history`.
