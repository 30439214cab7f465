//! The enumerated settings of the cluster: GPU profile, model shape, how a GPU is shared, the
//! application queue's policy and where reserved replicas go.

use serde::{Deserialize, Serialize};

/// GPU profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Profile {
    /// NVIDIA H100 80GB HBM3 (SXM5): the dataset's measured curve.
    #[serde(rename = "h100")]
    H100,
    /// NVIDIA A100 SXM4 80GB: the H100 curve scaled by datasheet bandwidth and compute.
    #[serde(rename = "a100-80gb")]
    A100_80gb,
    /// NVIDIA A100 SXM4 40GB: the same, with 40 GB.
    #[serde(rename = "a100-40gb")]
    A100_40gb,
    /// A measured curve given in `step_ms_by_batch` (for example a llama.cpp CPU calibration).
    #[serde(rename = "custom")]
    Custom,
}

/// Model shapes with measured decode curves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ModelShape {
    /// Llama-3-8B shape: 8.03 B parameters, 16.06 GB bf16.
    #[serde(rename = "llama8b")]
    Llama8b,
    /// Qwen2.5-0.5B shape: 0.63 B parameters, 1.26 GB bf16.
    #[serde(rename = "qwen0.5b")]
    Qwen05b,
}

/// How a GPU is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sharing {
    /// `replicas` processes time-slice the GPU (NVIDIA device plugin `timeSlicing`).
    TimeSlice,
    /// One continuous-batching process per GPU.
    Batching,
}

/// Application queue policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// One queue in arrival order; no preemption.
    Fifo,
    /// P0 before P1 before P2; P0 and P1 preempt P2 when there is no room.
    StrictPriority,
    /// A share of replicas reserved for P0; P1/P2 fill the rest.
    ReservedPool,
}

/// Placement of reserved replicas over GPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// One reserved replica per GPU in turn (balanced scheduling).
    Spread,
    /// Reserved replicas fill whole GPUs first.
    Packed,
}
