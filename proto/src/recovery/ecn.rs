//! ECN codepoints, the counts carried by ACK frames, and their validation
//! (RFC 9000 §13.4, RFC 9002 §7.1).

/// The ECN codepoint of an IP packet (the low two bits of the TOS / traffic class byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EcnCodepoint {
    /// Not-ECT (`0b00`).
    #[default]
    NotEct = 0,
    /// ECT(1) (`0b01`).
    Ect1 = 1,
    /// ECT(0) (`0b10`).
    Ect0 = 2,
    /// CE, congestion experienced (`0b11`).
    Ce = 3,
}

impl EcnCodepoint {
    /// The codepoint in the low two bits of `tos`.
    pub const fn from_tos(tos: u8) -> Self {
        match tos & 0b11 {
            0b01 => Self::Ect1,
            0b10 => Self::Ect0,
            0b11 => Self::Ce,
            _ => Self::NotEct,
        }
    }
}

/// ECN counts as carried in an ACK_ECN frame (RFC 9000 §19.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EcnCounts {
    /// Packets received with ECT(0).
    pub ect0: u64,
    /// Packets received with ECT(1).
    pub ect1: u64,
    /// Packets received with CE.
    pub ce: u64,
}

impl EcnCounts {
    /// Counts one received packet carrying `cp` (saturating).
    pub fn record(&mut self, cp: EcnCodepoint) {
        match cp {
            EcnCodepoint::Ect0 => self.ect0 = self.ect0.saturating_add(1),
            EcnCodepoint::Ect1 => self.ect1 = self.ect1.saturating_add(1),
            EcnCodepoint::Ce => self.ce = self.ce.saturating_add(1),
            EcnCodepoint::NotEct => {}
        }
    }

    /// True when no count is below the same count in `prev`.
    pub fn is_monotonic_from(&self, prev: &EcnCounts) -> bool {
        self.ect0 >= prev.ect0 && self.ect1 >= prev.ect1 && self.ce >= prev.ce
    }
}

/// The outcome of checking an ACK frame's ECN counts (RFC 9000 §13.4.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcnCheck {
    /// Not checked: the ACK frame did not newly acknowledge its largest packet number, or it
    /// acknowledged no ECT-marked packet and carried no counts.
    NotChecked,
    /// The counts are consistent with what was newly acknowledged.
    Valid,
    /// Validation failed; the engine should stop marking packets on this path.
    Failed,
}

/// Validates the `reported` counts of an ACK frame against the counts last seen in the same
/// packet number space, `prev`, given how many newly acknowledged packets were sent with
/// ECT(0) and ECT(1). Fails when counts are missing although marked packets were acknowledged,
/// when a count decreased, or when the increases do not cover the marked packets.
pub fn validate(
    prev: &EcnCounts,
    reported: Option<&EcnCounts>,
    newly_acked_ect0: u64,
    newly_acked_ect1: u64,
) -> EcnCheck {
    let Some(now) = reported else {
        return if newly_acked_ect0 == 0 && newly_acked_ect1 == 0 {
            EcnCheck::NotChecked
        } else {
            EcnCheck::Failed
        };
    };
    if !now.is_monotonic_from(prev) {
        return EcnCheck::Failed;
    }
    let d_ect0 = now.ect0 - prev.ect0;
    let d_ect1 = now.ect1 - prev.ect1;
    let d_ce = now.ce - prev.ce;
    if d_ect0.saturating_add(d_ce) < newly_acked_ect0
        || d_ect1.saturating_add(d_ce) < newly_acked_ect1
    {
        return EcnCheck::Failed;
    }
    EcnCheck::Valid
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(ect0: u64, ect1: u64, ce: u64) -> EcnCounts {
        EcnCounts { ect0, ect1, ce }
    }

    #[test]
    fn codepoints() {
        assert_eq!(EcnCodepoint::from_tos(0xfe), EcnCodepoint::Ect0);
        assert_eq!(EcnCodepoint::from_tos(0x01), EcnCodepoint::Ect1);
        assert_eq!(EcnCodepoint::from_tos(0x03), EcnCodepoint::Ce);
        assert_eq!(EcnCodepoint::from_tos(0x04), EcnCodepoint::NotEct);
        let mut n = EcnCounts::default();
        for cp in [
            EcnCodepoint::Ect0,
            EcnCodepoint::Ce,
            EcnCodepoint::NotEct,
            EcnCodepoint::Ect0,
        ] {
            n.record(cp);
        }
        assert_eq!(n, c(2, 0, 1));
    }

    #[test]
    fn validation_rules() {
        let prev = c(10, 0, 1);
        // 3 ECT(0) packets newly acked: 2 arrived ECT(0), 1 CE.
        assert_eq!(validate(&prev, Some(&c(12, 0, 2)), 3, 0), EcnCheck::Valid);
        // A bleached path: counts did not move.
        assert_eq!(validate(&prev, Some(&c(10, 0, 1)), 3, 0), EcnCheck::Failed);
        // Counts went backwards.
        assert_eq!(validate(&prev, Some(&c(9, 0, 5)), 0, 0), EcnCheck::Failed);
        // Counts missing although marked packets were acked.
        assert_eq!(validate(&prev, None, 1, 0), EcnCheck::Failed);
        assert_eq!(validate(&prev, None, 0, 0), EcnCheck::NotChecked);
        // ECT(1) must be covered by ECT(1) + CE.
        assert_eq!(validate(&prev, Some(&c(13, 0, 1)), 0, 2), EcnCheck::Failed);
        assert_eq!(validate(&prev, Some(&c(10, 2, 1)), 0, 2), EcnCheck::Valid);
    }
}
