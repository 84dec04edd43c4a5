#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Replays the checked-in fuzz corpora through the fuzz bodies on stable.

include!("../../../fuzz/replay.rs");

mod ice_agent {
    include!("../../../fuzz/bodies/ice_agent.rs");

    #[test]
    fn corpus() {
        // The setup really reaches the states the target fuzzes.
        let (a, b, c, _) = ice_agent_setup();
        assert!(a.selected_pair(1).is_some() && b.selected_pair(1).is_some());
        assert_eq!(c.state(), fulmar_ice::IceConnectionState::Checking);
        super::replay("ice_agent", run);
    }
}

mod ice_candidate {
    include!("../../../fuzz/bodies/ice_candidate.rs");

    #[test]
    fn corpus() {
        super::replay("ice_candidate", run);
    }
}
