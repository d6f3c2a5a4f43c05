//! Micro-segmentation: groups are placed in segments; within a segment every
//! connection is allowed, across segments only what an allow rule admits (the services
//! the scenario's flows use between the two, or those the rule lists).

use super::*;

/// No tunable parameter: its segments and rules are the strategy's structure.
pub(super) const SPACE: &[Param] = &[];

/// What one segment may reach on one group of another segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admitted {
    /// Every port (an allow of `"*"`, or a flow, to a group that declares no service).
    pub every_port: bool,
    /// The group's services it may reach, sorted.
    pub services: Vec<ServiceId>,
}

impl Admitted {
    /// Admits a service (`None`: every port).
    fn admit(&mut self, service: Option<ServiceId>) {
        match service {
            None => self.every_port = true,
            Some(s) => {
                if let Err(k) = self.services.binary_search(&s) {
                    self.services.insert(k, s);
                }
            }
        }
    }

    /// Whether anything at all is admitted.
    pub fn any(&self) -> bool {
        self.every_port || !self.services.is_empty()
    }

    /// Whether a connection to `service` (`None`: a port in no declared service) is.
    pub fn admits(&self, service: Option<ServiceId>) -> bool {
        self.every_port || service.is_some_and(|s| self.services.contains(&s))
    }
}

/// Resolved micro-segmentation: segments, the allowed segment pairs, and per pair the
/// services admitted on each group of the responding segment. Within a segment every
/// connection is allowed; across segments only an admitted service.
#[derive(Debug, Clone)]
pub struct Segmentation {
    /// Segment names.
    pub names: Vec<String>,
    /// Segment of each group.
    pub segment_of_group: Vec<u16>,
    /// Segment pairs with an allow rule, row-major `from × segments + to`.
    pub allowed: Vec<bool>,
    /// What each segment may reach on each group, row-major `segment × groups + group`
    /// (unused for a group of the same segment: everything is allowed there).
    pub admitted: Vec<Admitted>,
}

impl Segmentation {
    /// What segment `segment` may reach on group `to` (everything within a segment).
    pub fn admitted(&self, segment: usize, to: GroupId) -> Option<&Admitted> {
        (self.segment_of_group[to as usize] as usize != segment)
            .then(|| &self.admitted[segment * self.segment_of_group.len() + to as usize])
    }

    /// Whether a node of `from` may open a connection to some service of a node of `to`.
    #[inline]
    pub fn allows(&self, from: GroupId, to: GroupId) -> bool {
        self.admitted(self.segment_of_group[from as usize] as usize, to)
            .is_none_or(Admitted::any)
    }

    /// Whether a node of `from` may open a connection to `service` of a node of `to`
    /// (`None`: a port in no declared service).
    #[inline]
    pub fn allows_service(&self, from: GroupId, to: GroupId, service: Option<ServiceId>) -> bool {
        self.admitted(self.segment_of_group[from as usize] as usize, to)
            .is_none_or(|a| a.admits(service))
    }
}

impl Section for Segmentation {
    type Spec = SegmentationSpec;

    fn resolve(v: &mut Validator<'_>, s: &SegmentationSpec, cx: &Context<'_>) -> Self {
        v.segmentation(s, cx)
    }
}

impl Validator<'_> {
    fn segmentation(&mut self, s: &SegmentationSpec, cx: &Context<'_>) -> Segmentation {
        let (names, groups, flows) = (cx.names, cx.groups, cx.flows);
        let mut ids: HashMap<String, u16> = HashMap::new();
        let mut segment_of_group: Vec<Option<u16>> = vec![None; groups.len()];
        for (i, seg) in s.segments.iter().enumerate() {
            let p = |f: &str, j: usize| field_path!["defense", "segmentation", "segment", i, f, j];
            if ids.insert(seg.name.clone(), i as u16).is_some() {
                self.err(
                    field_path!["defense", "segmentation", "segment", i, "name"],
                    format!("duplicate segment name `{}`", seg.name),
                );
            }
            let mut members: Vec<(GroupId, Vec<Seg>)> = Vec::new();
            for (zone, j) in self.zone_list(&seg.zones, cx, |j| p("zones", j)) {
                for (g, group) in groups.iter().enumerate() {
                    if group.zone == zone && self.resolved(g as GroupId) {
                        members.push((g as GroupId, p("zones", j)));
                    }
                }
            }
            for (id, j) in self.group_list(&seg.groups, cx, |j| p("groups", j)) {
                members.push((id, p("groups", j)));
            }
            for (g, at) in members {
                match segment_of_group[g as usize] {
                    Some(other) if other != i as u16 => self.err(
                        at,
                        format!(
                            "group `{}` is already in segment `{}`: a group belongs to one segment",
                            groups[g as usize].name, s.segments[other as usize].name
                        ),
                    ),
                    _ => segment_of_group[g as usize] = Some(i as u16),
                }
            }
        }
        for (g, seg) in segment_of_group.iter().enumerate() {
            // A group whose zone is unknown (reported) may belong to a zone's segment.
            if seg.is_none() && self.resolved(g as GroupId) {
                self.err(
                    field_path!["defense", "segmentation", "segment"],
                    format!(
                        "group `{}` is in no segment: add its zone, its name or a `kind:` matching it to one (unsegmented nodes would bypass the policy)",
                        groups[g].name
                    ),
                );
            }
        }
        let segment_of_group: Vec<u16> = segment_of_group
            .into_iter()
            .map(|s| s.unwrap_or(0))
            .collect();
        let (allowed, admitted) =
            self.allow_rules(s, &ids, &segment_of_group, names, groups, flows);
        Segmentation {
            names: s.segments.iter().map(|x| x.name.clone()).collect(),
            segment_of_group,
            allowed,
            admitted,
        }
    }

    /// The allow rules: which segment pairs have one, and what each segment may reach on
    /// each group of another, row-major `segment × groups + group`: the services the
    /// flows use between the two segments, or the services the rule lists.
    fn allow_rules(
        &mut self,
        s: &SegmentationSpec,
        ids: &HashMap<String, u16>,
        segment_of_group: &[u16],
        names: &Names<'_>,
        groups: &[Group],
        flows: &[Flow],
    ) -> (Vec<bool>, Vec<Admitted>) {
        let n = s.segments.len();
        let mut allowed = vec![false; n * n];
        let mut admitted = vec![Admitted::default(); n * groups.len()];
        for (j, a) in s.allow.iter().enumerate() {
            let from = self.lookup(
                ids,
                "segment",
                &a.from,
                field_path!["defense", "segmentation", "allow", j, "from"],
            );
            let to = self.lookup(
                ids,
                "segment",
                &a.to,
                field_path!["defense", "segmentation", "allow", j, "to"],
            );
            let (Some(from), Some(to)) = (from, to) else {
                continue;
            };
            let mut pairs = vec![(from, to)];
            if a.both_ways {
                pairs.push((to, from));
            }
            for &(f, t) in &pairs {
                allowed[f as usize * n + t as usize] = true;
            }
            let Some(list) = &a.services else {
                // What the flows need, from each segment to each group of the other.
                for &(f, t) in &pairs {
                    for flow in flows {
                        let server = flow.servers as usize;
                        if segment_of_group.get(flow.clients as usize) == Some(&f)
                            && segment_of_group.get(server) == Some(&t)
                        {
                            admitted[f as usize * groups.len() + server].admit(flow.service);
                        }
                    }
                }
                continue;
            };
            for (k, name) in list.iter().enumerate() {
                let at = field_path!["defense", "segmentation", "allow", j, "services", k];
                let every = name == "*";
                let service = if every {
                    None
                } else {
                    let Some(id) = self.lookup(names.services, "service", name, at.clone()) else {
                        continue;
                    };
                    Some(id)
                };
                let mut found = false;
                for &(f, t) in &pairs {
                    for (g, group) in groups.iter().enumerate() {
                        if segment_of_group[g] != t {
                            continue;
                        }
                        if !self.resolved(g as GroupId) {
                            // Its services are not all known (reported): it may run it.
                            found = true;
                            continue;
                        }
                        let adm = &mut admitted[f as usize * groups.len() + g];
                        match service {
                            None if group.services.is_empty() => adm.admit(None),
                            None => group.services.iter().for_each(|&x| adm.admit(Some(x))),
                            Some(x) if group.services.contains(&x) => adm.admit(Some(x)),
                            Some(_) => continue,
                        }
                        found = true;
                    }
                }
                if !found && !every {
                    self.err(
                        at,
                        format!(
                            "no group of segment `{}`{} runs `{name}`: list services its groups run, or \"*\" for all",
                            a.to,
                            if a.both_ways {
                                format!(" or `{}`", a.from)
                            } else {
                                String::new()
                            }
                        ),
                    );
                }
            }
        }
        (allowed, admitted)
    }
}
