//! Clustering accepted pairs into persons.
//!
//! Pairs are joined strongest first (union–find). A cluster never holds two different ID
//! numbers: two records with different numbers are two people whatever their names say, and
//! a chain of pairs (A–B, B–C) must not make them one through a record without a number.
//!
//! Which numbers count is the caller's choice ([`crate::engine::IdPolicy`]): by default only
//! numbers with a valid check digit (Aadhaar's Verhoeff digit), because identifiers without
//! one are mistyped or swapped beyond detection in real files, and there they are weighed as
//! evidence like any other field. A number mistyped by one digit, or with two neighbouring
//! digits swapped, is the same number badly copied, not a different one; two valid Aadhaar
//! numbers never differ so little, since the check digit catches exactly those errors.

/// Union–find over record positions, each cluster remembering the ID numbers it holds.
#[derive(Debug)]
pub struct Clusters<'a> {
    parent: Vec<u32>,
    size: Vec<u32>,
    /// The ID numbers a cluster's records carry (at the root; one, or variants of one).
    id_numbers: Vec<Vec<&'a str>>,
    /// Pairs refused because they would have joined two ID numbers.
    pub refused: usize,
}

/// Whether two ID numbers are different numbers rather than one number mistyped.
pub fn different_numbers(a: &str, b: &str) -> bool {
    a != b && !(a.len() == b.len() && strsim::osa_distance(a, b) <= 1)
}

impl<'a> Clusters<'a> {
    /// One cluster per record; `id_numbers[i]` is record i's ID number, if any.
    pub fn new(id_numbers: impl IntoIterator<Item = Option<&'a str>>) -> Clusters<'a> {
        let id_numbers: Vec<Vec<&'a str>> = id_numbers
            .into_iter()
            .map(|id| id.into_iter().collect())
            .collect();
        let n = id_numbers.len();
        Clusters {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
            id_numbers,
            refused: 0,
        }
    }

    /// The cluster a record is in (its root).
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Joins the clusters of `a` and `b` unless they hold different ID numbers. Returns
    /// whether they are now one cluster.
    pub fn join(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return true;
        }
        let (ia, ib) = (&self.id_numbers[ra as usize], &self.id_numbers[rb as usize]);
        if ia
            .iter()
            .any(|x| ib.iter().any(|y| different_numbers(x, y)))
        {
            self.refused += 1;
            return false;
        }
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
        let moved = std::mem::take(&mut self.id_numbers[small as usize]);
        let kept = &mut self.id_numbers[big as usize];
        for id in moved {
            if !kept.contains(&id) {
                kept.push(id);
            }
        }
        true
    }

    /// Joins pairs strongest first; `edges` are (a, b, weight).
    pub fn join_all(&mut self, edges: &mut [(u32, u32, f32)]) {
        edges.sort_unstable_by(|x, y| y.2.total_cmp(&x.2));
        for &(a, b, _) in edges.iter() {
            self.join(a, b);
        }
    }

    /// For each record, the smallest position in its cluster: a stable cluster label.
    pub fn labels(&mut self) -> Vec<u32> {
        let n = self.parent.len();
        let mut first = vec![u32::MAX; n];
        let mut labels = vec![0; n];
        for i in 0..n as u32 {
            let root = self.find(i) as usize;
            if first[root] == u32::MAX {
                first[root] = i;
            }
            labels[i as usize] = first[root];
        }
        labels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_never_joins_two_id_numbers() {
        // 0 and 2 carry different ID numbers; 1 has none and pairs strongly with both.
        let mut clusters = Clusters::new([Some("1111"), None, Some("2222"), None]);
        let mut edges = vec![(0, 1, 9.0), (1, 2, 8.0), (2, 3, 7.0)];
        clusters.join_all(&mut edges);
        let labels = clusters.labels();
        assert_eq!(labels, [0, 0, 2, 2]);
        assert_eq!(clusters.refused, 1);
    }

    #[test]
    fn the_stronger_pair_wins_the_record_without_a_number() {
        let mut clusters = Clusters::new([Some("1111"), None, Some("2222")]);
        let mut edges = vec![(0, 1, 3.0), (1, 2, 8.0)];
        clusters.join_all(&mut edges);
        assert_eq!(clusters.labels(), [0, 1, 1]);
    }

    #[test]
    fn a_mistyped_number_is_the_same_number() {
        assert!(!different_numbers("1804974", "1804794"));
        assert!(!different_numbers("1804974", "1804979"));
        assert!(different_numbers("1804974", "1809479"));
        let mut clusters = Clusters::new([Some("1804974"), Some("1804794"), Some("9999999")]);
        assert!(clusters.join(0, 1));
        assert!(!clusters.join(1, 2));
    }
}
