//! The pod-level controller: moves replicas between the batch pool and the P0 pool by
//! evicting and starting pods.

use super::cluster::{Cluster, Ev, Role};
use crate::des::{SimDuration, SimTime};

impl Cluster<'_> {
    /// The pod-level controller: grow the P0 pool by evicting a batch pod when too many P0
    /// first tokens came later than `pod_scale_up_ttft_ms`, shrink it back after quiet looks. Pods take `pod_startup_s` to become ready.
    pub(super) fn pod_check(&mut self, now: SimTime) {
        let pressure = if self.p0_seen > 0 {
            self.p0_slow as f64 / self.p0_seen as f64
        } else {
            0.0
        };
        self.p0_seen = 0;
        self.p0_slow = 0;
        if pressure > self.p.pod_scale_up_share && self.reserved_now < self.order.len() {
            self.quiet_checks = 0;
            let u = self.order[self.reserved_now] as usize;
            self.reserved_now += 1;
            match self.roles[u] {
                // Still draining from a scale-down: it simply stays in the pool.
                Role::Draining | Role::Reserved => self.roles[u] = Role::Reserved,
                Role::Starting { .. } => self.roles[u] = Role::Starting { reserved: true },
                Role::Shared => {
                    let victims: Vec<u32> = self.engine.members(u).to_vec();
                    for s in victims {
                        let info = self.engine.preempt(s);
                        self.on_preempted(info, true);
                    }
                    if self.measuring {
                        self.w.pod_evictions += 1;
                    }
                    self.roles[u] = Role::Starting { reserved: true };
                    self.sched.schedule_in(
                        SimDuration::from_secs_f64(self.p.pod_startup_s),
                        Ev::PodReady(u as u32),
                    );
                }
            }
        } else if pressure == 0.0 {
            self.quiet_checks += 1;
            if self.quiet_checks >= self.p.pod_scale_down_checks
                && self.reserved_now > self.reserved_init
            {
                self.quiet_checks = 0;
                self.reserved_now -= 1;
                let u = self.order[self.reserved_now] as usize;
                match self.roles[u] {
                    Role::Reserved => {
                        self.roles[u] = Role::Draining;
                        self.dispatch(u, now);
                    }
                    Role::Starting { .. } => self.roles[u] = Role::Starting { reserved: false },
                    Role::Shared | Role::Draining => {}
                }
            }
        } else {
            self.quiet_checks = 0;
        }
    }
}
