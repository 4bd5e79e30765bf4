//! A schedule's groups as a dependency graph: duplicate names, unknown dependencies and cycles found, then the groups ordered with petgraph.

use std::collections::{BTreeSet, HashMap};

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use super::{Group, ResourceKind};

/// A ServerGroup item as read, before its schedule's groups are put in order.
pub(super) struct GroupDraft {
    pub(super) schedule: String,
    pub(super) name: String,
    pub(super) kind: Option<ResourceKind>,
    pub(super) depends: Vec<String>,
    pub(super) hibernate: bool,
    pub(super) ok: bool,
}

/// Checks a schedule's groups (duplicates, unknown dependencies, cycles) and orders them:
/// topologically with petgraph, by layer and then name.
pub(super) fn build_groups(
    schedule: &str,
    drafts: &[GroupDraft],
) -> std::result::Result<Vec<Group>, Vec<String>> {
    let mut errors = Vec::new();
    // Group names, sorted, each with its last item; nodes are added in this order, so a
    // name's position here is its node's index. A schedule has a handful of groups:
    // vectors, not maps.
    let mut names: Vec<(&str, usize)> = drafts
        .iter()
        .enumerate()
        .map(|(i, g)| (g.name.as_str(), i))
        .collect();
    names.sort_by(|a, b| a.0.cmp(b.0));
    names.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            errors.push(format!(
                "group '{schedule}/{}': field GroupName: defined more than once",
                later.0
            ));
            kept.1 = kept.1.max(later.1);
        }
        same
    });
    let node = |name: &str| {
        names
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(NodeIndex::new)
    };
    let mut graph: DiGraph<&str, ()> = DiGraph::with_capacity(names.len(), names.len());
    for (name, _) in &names {
        graph.add_node(name);
    }
    for g in drafts {
        for dep in &g.depends {
            match (node(dep), node(&g.name)) {
                (Some(from), Some(to)) => {
                    graph.update_edge(from, to, ());
                }
                _ => errors.push(format!(
                    "group '{schedule}/{}': field Dependency: group '{dep}' does not exist in schedule '{schedule}'",
                    g.name
                )),
            }
        }
    }
    for cycle in cycles(&graph) {
        errors.push(format!(
            "group '{schedule}/{}': field Dependency: dependency cycle: {}",
            cycle[0],
            cycle.join(" -> ")
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let order = toposort(&graph, None)
        .map_err(|_| vec![format!("schedule '{schedule}': dependency cycle")])?;
    Ok(ordered(&graph, order, |n| &drafts[names[n.index()].1]))
}

/// The groups of an acyclic `graph` (`order`: topological), by layer and then name, each
/// with the positions of its dependencies and dependents; `draft` gives a node's item.
fn ordered<'d>(
    graph: &DiGraph<&str, ()>,
    order: Vec<NodeIndex>,
    draft: impl Fn(NodeIndex) -> &'d GroupDraft,
) -> Vec<Group> {
    let nodes = graph.node_count();
    // layer[node]: the longest chain of dependencies below it.
    let mut layer = vec![0usize; nodes];
    for n in &order {
        layer[n.index()] = graph
            .neighbors_directed(*n, petgraph::Direction::Incoming)
            .map(|p| layer[p.index()] + 1)
            .max()
            .unwrap_or(0);
    }
    let mut sorted: Vec<NodeIndex> = order;
    sorted.sort_by(|a, b| (layer[a.index()], graph[*a]).cmp(&(layer[b.index()], graph[*b])));
    let mut position = vec![0usize; nodes];
    for (i, n) in sorted.iter().enumerate() {
        position[n.index()] = i;
    }
    let neighbours = |n: NodeIndex, direction| {
        let mut out: Vec<usize> = graph
            .neighbors_directed(n, direction)
            .map(|p| position[p.index()])
            .collect();
        out.sort_unstable();
        out
    };
    sorted
        .iter()
        .map(|n| {
            let draft = draft(*n);
            Group {
                name: draft.name.clone(),
                kind: draft.kind.unwrap_or(ResourceKind::Ec2),
                hibernate: draft.hibernate,
                depends_on: neighbours(*n, petgraph::Direction::Incoming),
                dependents: neighbours(*n, petgraph::Direction::Outgoing),
            }
        })
        .collect()
}

/// Every dependency cycle, as a closed path of group names read as "depends on"
/// (`API -> WEB -> API`), starting at its smallest name. Members of the same strongly
/// connected component that are not on that path are named after it.
fn cycles(graph: &DiGraph<&str, ()>) -> Vec<Vec<String>> {
    use petgraph::Direction::Incoming;
    let mut out = Vec::new();
    for scc in tarjan_scc(graph) {
        let self_loop = scc.len() == 1 && graph.find_edge(scc[0], scc[0]).is_some();
        if scc.len() < 2 && !self_loop {
            continue;
        }
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        let Some(&start) = scc.iter().min_by_key(|n| graph[**n]) else {
            continue;
        };
        // Breadth-first over "depends on" edges inside the component, back to start.
        let mut parent: HashMap<NodeIndex, NodeIndex> = HashMap::new();
        let mut queue = std::collections::VecDeque::from([start]);
        let mut last = None;
        while let Some(n) = queue.pop_front() {
            let mut next: Vec<NodeIndex> = graph
                .neighbors_directed(n, Incoming)
                .filter(|m| members.contains(m))
                .collect();
            next.sort_by_key(|m| graph[*m]);
            if next.contains(&start) {
                last = Some(n);
                break;
            }
            for m in next {
                if m != start && !parent.contains_key(&m) {
                    parent.insert(m, n);
                    queue.push_back(m);
                }
            }
        }
        let mut path = Vec::new();
        let mut cur = last;
        while let Some(n) = cur {
            path.push(n);
            cur = if n == start {
                None
            } else {
                parent.get(&n).copied()
            };
        }
        path.reverse();
        let mut names: Vec<String> = path.iter().map(|n| graph[*n].to_string()).collect();
        names.push(graph[start].to_string());
        let mut rest: Vec<&str> = members
            .iter()
            .filter(|n| !path.contains(n))
            .map(|n| graph[*n])
            .collect();
        rest.sort_unstable();
        if !rest.is_empty() {
            let end = names.len() - 1;
            names[end] = format!("{} (also in the cycle: {})", names[end], rest.join(", "));
        }
        out.push(names);
    }
    out.sort();
    out
}
