//! [`MaxFlow`]: minimum s-t cuts by the Boykov-Kolmogorov augmenting-path algorithm (search
//! trees grown from both terminals and reused between augmentations), for the graph cut.
//!
//! Written by hand: no maintained crate offers a max-flow solver fit for image grids
//! (`pathfinding`'s Edmonds-Karp takes integer capacities and restarts every search, far too
//! slow for tens of thousands of pixels). The algorithm is Boykov & Kolmogorov, "An
//! Experimental Comparison of Min-Cut/Max-Flow Algorithms for Energy Minimization in Vision"
//! (PAMI 2004): growth, augmentation, adoption.

use std::collections::VecDeque;

const NONE: u32 = u32::MAX;
/// Parent marker of a node linked straight to its terminal.
const TERMINAL: u32 = u32::MAX - 1;
/// Parent marker of a node that lost its parent (during adoption).
const ORPHAN: u32 = u32::MAX - 2;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tree {
    Free,
    Source,
    Sink,
}

#[derive(Clone, Copy)]
struct Node {
    first_arc: u32,
    /// Arc to the parent (from this node), or TERMINAL / ORPHAN / NONE.
    parent: u32,
    tree: Tree,
    /// Residual capacity to the sink when negative, from the source when positive.
    terminal_cap: f32,
    /// Timestamp and distance to the terminal (the marking heuristic of the paper).
    stamp: u32,
    dist: u32,
    active: bool,
}

#[derive(Clone, Copy)]
struct Arc {
    head: u32,
    next: u32,
    residual: f32,
    /// The capacity it was added with (restored by `clear_terminals`).
    capacity: f32,
}

/// A directed graph with source and sink links, solved for a minimum cut.
///
/// ```
/// use crossview_stages::masks::MaxFlow;
/// // s -> a (3), s -> b (2), a -> b (1), a -> t (2), b -> t (3): max flow 5.
/// let mut g = MaxFlow::new(2);
/// g.add_terminal_weights(0, 3.0, 2.0);
/// g.add_terminal_weights(1, 2.0, 3.0);
/// g.add_edge(0, 1, 1.0, 0.0);
/// assert_eq!(g.solve(), 5.0);
/// ```
pub struct MaxFlow {
    nodes: Vec<Node>,
    arcs: Vec<Arc>,
    flow: f64,
    time: u32,
    active: VecDeque<u32>,
    orphans: VecDeque<u32>,
}

fn sister(a: u32) -> u32 {
    a ^ 1
}

impl MaxFlow {
    /// A graph of `nodes` nodes and no edges.
    pub fn new(nodes: usize) -> Self {
        let mut g = MaxFlow {
            nodes: Vec::new(),
            arcs: Vec::new(),
            flow: 0.0,
            time: 0,
            active: VecDeque::new(),
            orphans: VecDeque::new(),
        };
        g.reset(nodes, 0);
        g
    }

    /// Clears the graph to `nodes` nodes, keeping the allocations; `edges_hint` reserves
    /// room for that many edges.
    pub fn reset(&mut self, nodes: usize, edges_hint: usize) {
        self.nodes.clear();
        self.nodes.resize(
            nodes,
            Node {
                first_arc: NONE,
                parent: NONE,
                tree: Tree::Free,
                terminal_cap: 0.0,
                stamp: 0,
                dist: 0,
                active: false,
            },
        );
        self.arcs.clear();
        self.arcs.reserve(2 * edges_hint);
        self.flow = 0.0;
        self.time = 0;
        self.active.clear();
        self.orphans.clear();
    }

    /// Keeps the edges (at their capacities again) and clears the terminal links and the
    /// flow: the same graph, to be solved with other terminal weights.
    pub fn clear_terminals(&mut self) {
        for a in &mut self.arcs {
            a.residual = a.capacity;
        }
        for n in &mut self.nodes {
            n.terminal_cap = 0.0;
        }
        self.flow = 0.0;
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Adds capacity from the source to `i` and from `i` to the sink (both >= 0).
    pub fn add_terminal_weights(&mut self, i: usize, source: f32, sink: f32) {
        let n = &mut self.nodes[i];
        let (a, b) = (
            n.terminal_cap.max(0.0) + source,
            (-n.terminal_cap).max(0.0) + sink,
        );
        // Flow through s -> i -> t of min(a, b) is taken at once; what remains is one link.
        self.flow += f64::from(a.min(b));
        n.terminal_cap = a - b;
    }

    /// Adds an edge `i -> j` of capacity `cap` and `j -> i` of `rev_cap` (both >= 0).
    pub fn add_edge(&mut self, i: usize, j: usize, cap: f32, rev_cap: f32) {
        let a = self.arcs.len() as u32;
        self.arcs.push(Arc {
            head: j as u32,
            next: self.nodes[i].first_arc,
            residual: cap,
            capacity: cap,
        });
        self.arcs.push(Arc {
            head: i as u32,
            next: self.nodes[j].first_arc,
            residual: rev_cap,
            capacity: rev_cap,
        });
        self.nodes[i].first_arc = a;
        self.nodes[j].first_arc = a + 1;
    }

    /// Whether node `i` is on the source side of the minimum cut found by [`MaxFlow::solve`]
    /// (nodes reachable from neither terminal go to the sink side).
    pub fn is_source_side(&self, i: usize) -> bool {
        self.nodes[i].tree == Tree::Source
    }

    fn activate(&mut self, i: u32) {
        let n = &mut self.nodes[i as usize];
        if !n.active {
            n.active = true;
            self.active.push_back(i);
        }
    }

    /// Computes the maximum flow (the capacity of the minimum cut).
    pub fn solve(&mut self) -> f64 {
        self.push_short_paths();
        self.active.clear();
        self.orphans.clear();
        for i in 0..self.nodes.len() {
            let n = &mut self.nodes[i];
            n.active = false;
            n.stamp = 0;
            if n.terminal_cap > 0.0 {
                n.tree = Tree::Source;
                n.parent = TERMINAL;
                n.dist = 1;
            } else if n.terminal_cap < 0.0 {
                n.tree = Tree::Sink;
                n.parent = TERMINAL;
                n.dist = 1;
            } else {
                n.tree = Tree::Free;
                n.parent = NONE;
                continue;
            }
            self.activate(i as u32);
        }
        self.time = 0;
        while let Some(middle) = self.grow() {
            self.time += 1;
            self.augment(middle);
            self.adopt();
        }
        self.flow
    }

    /// Saturates the paths source -> i -> j -> sink along single edges first: on image grids
    /// most augmenting paths are that short, and pushing them in one pass over the edges
    /// spares the search trees most of their work.
    fn push_short_paths(&mut self) {
        for i in 0..self.nodes.len() {
            let mut a = self.nodes[i].first_arc;
            while a != NONE && self.nodes[i].terminal_cap > 0.0 {
                let arc = self.arcs[a as usize];
                let j = arc.head as usize;
                let sink = -self.nodes[j].terminal_cap;
                if arc.residual > 0.0 && sink > 0.0 {
                    let d = arc.residual.min(sink).min(self.nodes[i].terminal_cap);
                    self.arcs[a as usize].residual -= d;
                    self.arcs[sister(a) as usize].residual += d;
                    self.nodes[i].terminal_cap -= d;
                    self.nodes[j].terminal_cap += d;
                    self.flow += f64::from(d);
                }
                a = arc.next;
            }
        }
    }

    /// Grows the trees from active nodes until they touch; returns the arc from the source
    /// tree into the sink tree, or `None` when no augmenting path is left.
    fn grow(&mut self) -> Option<u32> {
        while let Some(&i) = self.active.front() {
            let node = self.nodes[i as usize];
            if node.parent == NONE {
                // Became free since it was queued.
                self.active.pop_front();
                self.nodes[i as usize].active = false;
                continue;
            }
            let mut a = node.first_arc;
            while a != NONE {
                let arc = self.arcs[a as usize];
                let j = arc.head;
                // Flow runs parent -> child in the source tree, child -> parent in the sink tree.
                let residual = if node.tree == Tree::Source {
                    arc.residual
                } else {
                    self.arcs[sister(a) as usize].residual
                };
                if residual > 0.0 {
                    let other = self.nodes[j as usize];
                    if other.tree == Tree::Free {
                        let n = &mut self.nodes[j as usize];
                        n.tree = node.tree;
                        n.parent = sister(a);
                        n.stamp = node.stamp;
                        n.dist = node.dist + 1;
                        self.activate(j);
                    } else if other.tree != node.tree {
                        return Some(if node.tree == Tree::Source {
                            a
                        } else {
                            sister(a)
                        });
                    } else if other.stamp <= node.stamp && other.dist > node.dist {
                        // A shorter way to the terminal (the paper's heuristic).
                        let n = &mut self.nodes[j as usize];
                        n.parent = sister(a);
                        n.stamp = node.stamp;
                        n.dist = node.dist + 1;
                    }
                }
                a = arc.next;
            }
            self.active.pop_front();
            self.nodes[i as usize].active = false;
        }
        None
    }

    /// Pushes the bottleneck along the path through `middle` (source tree -> sink tree);
    /// nodes whose link to their parent saturates become orphans.
    fn augment(&mut self, middle: u32) {
        let mut bottleneck = self.arcs[middle as usize].residual;
        // Source side: from the middle arc's tail up to the source.
        let mut x = self.arcs[sister(middle) as usize].head;
        loop {
            let p = self.nodes[x as usize].parent;
            if p == TERMINAL {
                bottleneck = bottleneck.min(self.nodes[x as usize].terminal_cap);
                break;
            }
            bottleneck = bottleneck.min(self.arcs[sister(p) as usize].residual);
            x = self.arcs[p as usize].head;
        }
        // Sink side: from the middle arc's head down to the sink.
        let mut x = self.arcs[middle as usize].head;
        loop {
            let p = self.nodes[x as usize].parent;
            if p == TERMINAL {
                bottleneck = bottleneck.min(-self.nodes[x as usize].terminal_cap);
                break;
            }
            bottleneck = bottleneck.min(self.arcs[p as usize].residual);
            x = self.arcs[p as usize].head;
        }

        self.arcs[middle as usize].residual -= bottleneck;
        self.arcs[sister(middle) as usize].residual += bottleneck;
        let mut x = self.arcs[sister(middle) as usize].head;
        loop {
            let p = self.nodes[x as usize].parent;
            if p == TERMINAL {
                let n = &mut self.nodes[x as usize];
                n.terminal_cap -= bottleneck;
                if n.terminal_cap <= 0.0 {
                    n.terminal_cap = 0.0;
                    n.parent = ORPHAN;
                    self.orphans.push_front(x);
                }
                break;
            }
            self.arcs[p as usize].residual += bottleneck;
            let s = &mut self.arcs[sister(p) as usize];
            s.residual -= bottleneck;
            let saturated = s.residual <= 0.0;
            if saturated {
                s.residual = 0.0;
            }
            let next = self.arcs[p as usize].head;
            if saturated {
                self.nodes[x as usize].parent = ORPHAN;
                self.orphans.push_front(x);
            }
            x = next;
        }
        let mut x = self.arcs[middle as usize].head;
        loop {
            let p = self.nodes[x as usize].parent;
            if p == TERMINAL {
                let n = &mut self.nodes[x as usize];
                n.terminal_cap += bottleneck;
                if n.terminal_cap >= 0.0 {
                    n.terminal_cap = 0.0;
                    n.parent = ORPHAN;
                    self.orphans.push_front(x);
                }
                break;
            }
            self.arcs[sister(p) as usize].residual += bottleneck;
            let a = &mut self.arcs[p as usize];
            a.residual -= bottleneck;
            let saturated = a.residual <= 0.0;
            if saturated {
                a.residual = 0.0;
            }
            let next = a.head;
            if saturated {
                self.nodes[x as usize].parent = ORPHAN;
                self.orphans.push_front(x);
            }
            x = next;
        }
        self.flow += f64::from(bottleneck);
    }

    /// Whether `j` still reaches its terminal through valid parents; returns its distance,
    /// marking the path with the current time so later checks stop there.
    fn origin_distance(&mut self, j: u32) -> Option<u32> {
        let mut d = 0u32;
        let mut k = j;
        loop {
            let n = self.nodes[k as usize];
            if n.stamp == self.time {
                d += n.dist;
                break;
            }
            d += 1;
            if n.parent == TERMINAL {
                let n = &mut self.nodes[k as usize];
                n.stamp = self.time;
                n.dist = 1;
                break;
            }
            if n.parent == ORPHAN || n.parent == NONE {
                return None;
            }
            k = self.arcs[n.parent as usize].head;
        }
        // Mark the path with distances for the checks that follow.
        let mut k = j;
        let mut dk = d;
        while self.nodes[k as usize].stamp != self.time {
            let n = &mut self.nodes[k as usize];
            n.stamp = self.time;
            n.dist = dk;
            dk -= 1;
            k = self.arcs[n.parent as usize].head;
        }
        Some(d)
    }

    /// Finds new parents for the orphans, or frees them (and orphans their children).
    fn adopt(&mut self) {
        while let Some(x) = self.orphans.pop_front() {
            let tree = self.nodes[x as usize].tree;
            let mut best: Option<(u32, u32)> = None;
            let mut a = self.nodes[x as usize].first_arc;
            while a != NONE {
                let arc = self.arcs[a as usize];
                let j = arc.head;
                // A parent in the source tree must push into x (j -> x); in the sink tree x
                // must push into it (x -> j).
                let residual = if tree == Tree::Source {
                    self.arcs[sister(a) as usize].residual
                } else {
                    arc.residual
                };
                if residual > 0.0
                    && self.nodes[j as usize].tree == tree
                    && let Some(d) = self.origin_distance(j)
                    && best.is_none_or(|(_, bd)| d < bd)
                {
                    best = Some((a, d));
                }
                a = arc.next;
            }
            if let Some((a, d)) = best {
                let n = &mut self.nodes[x as usize];
                n.parent = a;
                n.stamp = self.time;
                n.dist = d + 1;
                continue;
            }
            // No parent: x becomes free; its neighbours in the tree may grow into it again,
            // and its children are orphans.
            let mut a = self.nodes[x as usize].first_arc;
            while a != NONE {
                let arc = self.arcs[a as usize];
                let j = arc.head;
                let other = self.nodes[j as usize];
                if other.tree == tree {
                    let residual = if tree == Tree::Source {
                        self.arcs[sister(a) as usize].residual
                    } else {
                        arc.residual
                    };
                    if residual > 0.0 {
                        self.activate(j);
                    }
                    if other.parent != TERMINAL
                        && other.parent != ORPHAN
                        && other.parent != NONE
                        && self.arcs[other.parent as usize].head == x
                    {
                        self.nodes[j as usize].parent = ORPHAN;
                        self.orphans.push_back(j);
                    }
                }
                a = arc.next;
            }
            let n = &mut self.nodes[x as usize];
            n.tree = Tree::Free;
            n.parent = NONE;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    struct Graph {
        n: usize,
        terminals: Vec<(f32, f32)>,
        edges: Vec<(usize, usize, f32, f32)>,
    }

    fn random_graph(rng: &mut ChaCha8Rng, n: usize, density: f64) -> Graph {
        let terminals = (0..n)
            .map(|_| {
                let s = if rng.random_bool(0.5) {
                    rng.random_range(0..10) as f32
                } else {
                    0.0
                };
                let t = if rng.random_bool(0.5) {
                    rng.random_range(0..10) as f32
                } else {
                    0.0
                };
                (s, t)
            })
            .collect();
        let mut edges = Vec::new();
        for i in 0..n {
            for j in i + 1..n {
                if rng.random_bool(density) {
                    edges.push((
                        i,
                        j,
                        rng.random_range(0..8) as f32,
                        rng.random_range(0..8) as f32,
                    ));
                }
            }
        }
        Graph {
            n,
            terminals,
            edges,
        }
    }

    fn solved(g: &Graph) -> (MaxFlow, f64) {
        let mut m = MaxFlow::new(g.n);
        for (i, &(s, t)) in g.terminals.iter().enumerate() {
            m.add_terminal_weights(i, s, t);
        }
        for &(i, j, c, r) in &g.edges {
            m.add_edge(i, j, c, r);
        }
        let f = m.solve();
        (m, f)
    }

    /// The capacity of the cut that puts `on_source[i]` nodes with the source.
    fn cut_capacity(g: &Graph, on_source: &[bool]) -> f64 {
        let mut c = 0.0;
        for (i, &(s, t)) in g.terminals.iter().enumerate() {
            c += f64::from(if on_source[i] { t } else { s });
        }
        for &(i, j, cap, rev) in &g.edges {
            if on_source[i] && !on_source[j] {
                c += f64::from(cap);
            }
            if on_source[j] && !on_source[i] {
                c += f64::from(rev);
            }
        }
        c
    }

    #[test]
    fn max_flow_equals_the_brute_force_minimum_cut_on_small_graphs() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for round in 0..300 {
            let n = 1 + round % 10;
            let g = random_graph(&mut rng, n, 0.4);
            let best = (0..1u32 << n)
                .map(|bits| {
                    let side: Vec<bool> = (0..n).map(|i| bits >> i & 1 == 1).collect();
                    cut_capacity(&g, &side)
                })
                .fold(f64::INFINITY, f64::min);
            let (m, flow) = solved(&g);
            assert_eq!(flow, best, "round {round}");
            // The reported sides form a cut of exactly that capacity.
            let side: Vec<bool> = (0..n).map(|i| m.is_source_side(i)).collect();
            assert_eq!(cut_capacity(&g, &side), best, "round {round}");
        }
    }

    #[test]
    fn the_reported_cut_is_minimal_on_large_grids() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for _ in 0..5 {
            let (w, h) = (60, 40);
            let mut g = Graph {
                n: w * h,
                terminals: Vec::new(),
                edges: Vec::new(),
            };
            for _ in 0..w * h {
                g.terminals.push((
                    rng.random_range(0..20) as f32,
                    rng.random_range(0..20) as f32,
                ));
            }
            for y in 0..h {
                for x in 0..w {
                    let i = y * w + x;
                    if x + 1 < w {
                        let c = rng.random_range(0..6) as f32;
                        g.edges.push((i, i + 1, c, c));
                    }
                    if y + 1 < h {
                        let c = rng.random_range(0..6) as f32;
                        g.edges.push((i, i + w, c, c));
                    }
                }
            }
            let (m, flow) = solved(&g);
            let side: Vec<bool> = (0..g.n).map(|i| m.is_source_side(i)).collect();
            // A feasible flow equal to a cut's capacity proves both optimal (weak duality);
            // integer capacities keep the float sums exact.
            assert_eq!(cut_capacity(&g, &side), flow);
        }
    }

    #[test]
    fn reset_reuses_the_graph() {
        let mut g = MaxFlow::new(1);
        g.add_terminal_weights(0, 2.0, 1.0);
        assert_eq!(g.solve(), 1.0);
        assert!(g.is_source_side(0));
        g.reset(2, 1);
        g.add_terminal_weights(0, 4.0, 0.0);
        g.add_terminal_weights(1, 0.0, 4.0);
        g.add_edge(0, 1, 3.0, 0.0);
        assert_eq!(g.solve(), 3.0);
        assert!(g.is_source_side(0) && !g.is_source_side(1));
        // Same edge, other terminals: now the cheaper cut is the edge's other side.
        g.clear_terminals();
        g.add_terminal_weights(0, 1.0, 0.0);
        g.add_terminal_weights(1, 0.0, 4.0);
        assert_eq!(g.solve(), 1.0);
        assert!(!g.is_source_side(0) && !g.is_source_side(1));
    }
}
