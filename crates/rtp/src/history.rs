//! A send history that answers NACKs: the last N packets sent, kept in
//! reusable slots keyed by sequence number.

use crate::seq::SequenceUnwrapper;

/// Recently sent RTP packets of one SSRC.
#[derive(Debug)]
pub struct SendHistory {
    slots: Vec<(Option<u64>, Vec<u8>)>,
    unwrapper: SequenceUnwrapper,
}

impl SendHistory {
    /// A history of the last `capacity` packets (at least 1).
    pub fn new(capacity: usize) -> Self {
        SendHistory {
            slots: (0..capacity.max(1)).map(|_| (None, Vec::new())).collect(),
            unwrapper: SequenceUnwrapper::new(),
        }
    }

    fn idx(&self, ext: u64) -> usize {
        (ext % self.slots.len() as u64) as usize
    }

    /// Records a sent packet (a copy is kept; slot buffers are reused).
    pub fn handle_sent(&mut self, sequence_number: u16, packet: &[u8]) {
        self.record(sequence_number).extend_from_slice(packet);
    }

    /// The emptied slot of the packet with `sequence_number`, for the
    /// sender to write the packet into where it is kept (a sender that
    /// builds at transmit time keeps no copy of its own); it replaces the
    /// packet a capacity's worth of sequence numbers older.
    pub fn record(&mut self, sequence_number: u16) -> &mut Vec<u8> {
        let ext = self.unwrapper.unwrap(sequence_number);
        let i = self.idx(ext);
        let slot = &mut self.slots[i];
        slot.0 = Some(ext);
        slot.1.clear();
        &mut slot.1
    }

    /// The packet sent with `sequence_number`, if still kept.
    pub fn get(&self, sequence_number: u16) -> Option<&[u8]> {
        let ext = self.unwrapper.peek(sequence_number);
        let (seq, data) = &self.slots[self.idx(ext)];
        (*seq == Some(ext)).then_some(data.as_slice())
    }

    /// The packets still kept among those a NACK reports lost, in its order.
    pub fn answer_nack<'a>(
        &'a self,
        nack: &crate::rtcp::Nack<'a>,
    ) -> impl Iterator<Item = &'a [u8]> + 'a {
        nack.lost().filter_map(move |s| self.get(s))
    }
}
