//! The digital-asset ledger that asset theft and wallet-draining campaigns transfer
//! through, and that refuses double spends.
//!
//! Each node's assets are a numbered sequence (`assets.count` from its group); the ledger
//! records per node how many of them have been spent, and so which are still unspent. A
//! transfer names one asset: the ledger accepts it if that asset is unspent and refuses it
//! otherwise, which is exactly what defeats a double spend (the same asset sent twice to
//! two addresses). Only what the ledger accepts counts as stolen.

use bevy_ecs::prelude::*;

/// Why the ledger refused a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The asset was already spent.
    #[error("asset already spent (double spend)")]
    DoubleSpend,
    /// The node holds no such asset.
    #[error("no such asset")]
    NoSuchAsset,
}

/// Spent assets per node.
#[derive(Resource, Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Ledger {
    spent: Vec<u32>,
}

paraverse_sim::persist_whole!(Ledger);

impl Ledger {
    /// A ledger for `nodes` nodes with nothing spent.
    pub fn new(nodes: u32) -> Self {
        Self {
            spent: vec![0; nodes as usize],
        }
    }

    /// The next unspent asset of `node`, given that it holds `holdings`, if any is left.
    pub fn next_unspent(&self, node: u32, holdings: u32) -> Option<u32> {
        let s = self.spent[node as usize];
        (s < holdings).then_some(s)
    }

    /// Transfers asset `asset` of `node` (which holds `holdings`) away.
    ///
    /// Assets are spent in order, so an asset is unspent exactly when its number is at
    /// least the spent count; anything below it is a double spend.
    pub fn transfer(&mut self, node: u32, asset: u32, holdings: u32) -> Result<(), Refusal> {
        let spent = &mut self.spent[node as usize];
        if asset < *spent {
            return Err(Refusal::DoubleSpend);
        }
        if asset >= holdings || asset != *spent {
            return Err(Refusal::NoSuchAsset);
        }
        *spent += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_accepts_each_asset_once_and_refuses_double_spends() {
        let mut l = Ledger::new(2);
        assert_eq!(l.next_unspent(1, 2), Some(0));
        assert_eq!(l.transfer(1, 0, 2), Ok(()));
        assert_eq!(l.transfer(1, 0, 2), Err(Refusal::DoubleSpend));
        assert_eq!(l.transfer(1, 1, 2), Ok(()));
        assert_eq!(l.transfer(1, 2, 2), Err(Refusal::NoSuchAsset));
        assert_eq!(l.next_unspent(1, 2), None);
        assert_eq!(l.next_unspent(0, 2), Some(0));
    }
}
