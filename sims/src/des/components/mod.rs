//! Reusable mechanisms rooms drive from their own event loop: a multi-server station with
//! priority classes, preemption and reneging; processor sharing over a few processors (an
//! operating system's cores); a semaphore (lock) with a wait queue; arrival sources. Each component schedules its own events through `E: From<ItsEvent>`, and the room
//! hands them back with `handle`.

mod semaphore;
mod sharing;
mod source;
mod station;

pub use semaphore::{Acquire, Semaphore};
pub use sharing::{ProcessorSharing, SharingDone, SharingEvent, SharingKey};
pub use source::Arrivals;
pub use station::{Departure, Job, Station, StationEvent, StationOutput};
