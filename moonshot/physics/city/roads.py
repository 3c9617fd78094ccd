"""The road network: intersections, two-way roads, the lane graph and its signal phases.

Right-hand traffic. Every undirected road ``e = (u, v)`` gives two directed roads: ``2e`` runs
u -> v and ``2e + 1`` runs v -> u. Each directed road has ``lanes`` lanes, numbered from the
curb: lane 0 is the rightmost. A *road lane* runs between the stop lines of its two
intersections; a *connector* is the path of one legal movement across an intersection, from the
end of a road lane to the start of a road lane of another road (a cubic Bézier). Road lanes and
connectors together form the lane graph; every lane is a polyline of ``LANE_POINTS`` points.

Lane ids: road lane ``k`` of directed road ``d`` is ``d * lanes + k``; connectors follow.

Movements and signals. At an intersection the exits of an approach are ordered from the
rightmost to the leftmost turn; with two lanes, lane 0 serves all but the leftmost exit and
lane 1 all but the rightmost (lane ``k`` always enters lane ``k``), so the movements of one
approach never cross. Intersections of three or more roads have traffic lights. Approaches that
face each other share a phase; within it a movement is kept only if its path stays clear of the
movements already kept for the opposite approach (straight and right turns first), so that a
phase never holds two crossing movements: e.g. at a plain four-way crossing traffic goes straight
or turns right, and left turns are made by going around the block (three rights). At a
T-junction every approach has its own phase, so that every turn stays legal (else the outer
ring of a grid would become a one-way trap). An approach whose lanes would lose every movement
gets a phase of its own. If the result would leave some road unreachable,
every approach of every light gets its own phase (all movements legal).

Why one module of ~410 lines: lanes, movements and signal phases are one construction
(:func:`build_lanes` decides all three together, each phase from the paths of its movements).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
from numba import njit

from .geometry import bezier_polyline, cumulative_length

LANE_POINTS = 10
ROAD, CONNECTOR = 0, 1
CONFLICT_DISTANCE = 2.8  # m: two movement paths closer than this cross (car width 1.8 + margin)
TURN_RADIUS = 9.0  # m: largest radius of a turn across an intersection


class LaneArrays(NamedTuple):
    """The lane graph as compiled kernels take it: the arrays of :class:`LaneGraph` that
    traffic and prediction read (``LaneGraph.arrays``).

    Kernels called from Python take the plain ``tuple(view)`` of this and the other bundles
    (``SignalArrays``, ``TrafficState``, ``Polyline``, ``Bicycle``) and rebuild the view
    (``lanes = LaneArrays(*lanes)``) to read it by name: numba types a plain tuple from Python
    several times faster than a NamedTuple, which would cost an env step a few percent."""

    pts: np.ndarray
    cum: np.ndarray
    length: np.ndarray
    kind: np.ndarray
    node: np.ndarray
    phase: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    succ_ptr: np.ndarray
    succ_idx: np.ndarray


@dataclass
class LaneGraph:
    """All lanes of a city as arrays (the traffic kernel reads them directly).

    ``pts (L, LANE_POINTS, 2)`` and ``cum (L, LANE_POINTS)``: polyline and arc length;
    ``length (L,)``; ``kind``: ``ROAD`` or ``CONNECTOR``; ``node``: the intersection at the end
    of a road lane, or the one a connector crosses; ``phase``: signal phase of the approach
    (-1: no light); ``road``: directed road of a road lane, source directed road of a
    connector; ``index``: lane number from the curb; ``src``/``dst``: a connector's road lanes
    (-1 for road lanes); ``succ_ptr``/``succ_idx``: CSR lists of the connectors leaving each
    road lane; ``turn``: a connector's turn angle (rad, left positive). ``arrays``: the
    :class:`LaneArrays` view that compiled kernels take (built once; it shares the arrays).
    """

    pts: np.ndarray
    cum: np.ndarray
    length: np.ndarray
    kind: np.ndarray
    node: np.ndarray
    phase: np.ndarray
    road: np.ndarray
    index: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    succ_ptr: np.ndarray
    succ_idx: np.ndarray
    turn: np.ndarray
    n_road: int
    lanes: int

    @property
    def n_lanes(self) -> int:
        return len(self.length)

    @cached_property
    def arrays(self) -> LaneArrays:
        return LaneArrays._make(getattr(self, f) for f in LaneArrays._fields)

    def successors(self, lane: int) -> np.ndarray:
        """Connectors leaving road lane ``lane`` (or the road lane a connector enters)."""
        if self.kind[lane] == CONNECTOR:
            return self.dst[lane:lane + 1]
        return self.succ_idx[self.succ_ptr[lane]:self.succ_ptr[lane + 1]]

    def road_lane(self, road: int, index: int) -> int:
        return road * self.lanes + index


def directed_roads(edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(from, to)`` node arrays of the directed roads (``2e``: u->v, ``2e+1``: v->u)."""
    frm = np.empty(2 * len(edges), dtype=np.int64)
    to = np.empty_like(frm)
    frm[0::2], to[0::2] = edges[:, 0], edges[:, 1]
    frm[1::2], to[1::2] = edges[:, 1], edges[:, 0]
    return frm, to


def smallest_angle(directions: Sequence[float]) -> float:
    """Smallest angle (rad) between neighbouring directions around a point (pi if fewer than
    two): how sharp the sharpest corner of an intersection is."""
    if len(directions) < 2:
        return math.pi
    a = np.sort(np.asarray(directions, dtype=np.float64))
    return float(np.diff(np.concatenate([a, [a[0] + 2 * math.pi]])).min())


def node_radii(nodes: np.ndarray, edges: Sequence[tuple[int, int]] | np.ndarray,
               half_width: float) -> np.ndarray:
    """Distance from each intersection centre to its stop lines: room for the corners of
    crossing roads (``half_width / tan(angle / 2)``) and for turning paths (at acute angles
    ``(half_width + 5) / tan(angle / 2)``, so that a sharp turn keeps a radius a car can
    drive)."""
    n = len(nodes)
    angles: list[list[float]] = [[] for _ in range(n)]
    for u, v in edges:
        d = nodes[v] - nodes[u]
        angles[u].append(math.atan2(d[1], d[0]))
        angles[v].append(math.atan2(-d[1], -d[0]))
    radius = np.zeros(n)
    for i, a in enumerate(angles):
        gap = smallest_angle(a)
        corner = half_width / math.tan(min(gap, math.pi - 1e-6) / 2) if gap < math.pi else 0.0
        # acute corners: stop lines far enough out that a sharp turn keeps a drivable radius
        sharp = (half_width + 5.0) / math.tan(gap / 2) if gap < math.pi / 2 else 0.0
        radius[i] = max(corner + 2.0, half_width + 5.0, sharp)
    return radius


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def _movements(frm: np.ndarray, to: np.ndarray, heading: np.ndarray, n_nodes: int,
               lanes: int) -> tuple[list[list[int]], list[tuple[int, int, int, int, float]]]:
    """Candidate movements ``(node, in_road, out_road, lane, turn)``, lane k -> lane k."""
    incoming: list[list[int]] = [[] for _ in range(n_nodes)]
    outgoing: list[list[int]] = [[] for _ in range(n_nodes)]
    for d in range(len(frm)):
        incoming[to[d]].append(d)
        outgoing[frm[d]].append(d)
    moves = []
    for node in range(n_nodes):
        for a in incoming[node]:
            exits = [b for b in outgoing[node] if b != (a ^ 1)]
            turns = [_wrap(heading[b] - heading[a]) for b in exits]
            order = np.argsort(turns)
            exits = [exits[i] for i in order]
            turns = [turns[i] for i in order]
            m = len(exits)
            for j, (b, t) in enumerate(zip(exits, turns, strict=True)):
                for k in range(lanes):
                    if lanes == 2 and m > 1 and ((k == 0 and j == m - 1) or (k == 1 and j == 0)):
                        continue  # lane 0 never takes the leftmost exit, lane 1 the rightmost
                    moves.append((node, a, b, k, t))
    return incoming, moves


def turn_paths(p0: np.ndarray, d0: np.ndarray, p1: np.ndarray, d1: np.ndarray) -> np.ndarray:
    """Paths (M, LANE_POINTS, 2) across intersections from lane ends ``p0`` (heading ``d0``)
    to lane starts ``p1`` (heading ``d1``). A turn runs straight along the incoming lane, then
    around a curve of radius at most ``TURN_RADIUS`` (tangent to both lane lines), then
    straight into the outgoing lane, so that it never cuts a corner however far out the stop
    lines are; nearly straight movements are a single smooth curve."""
    w = p1 - p0
    cross = d0[:, 0] * d1[:, 1] - d0[:, 1] * d1[:, 0]
    safe = np.where(np.abs(cross) > 1e-9, cross, 1.0)
    t0 = (w[:, 0] * d1[:, 1] - w[:, 1] * d1[:, 0]) / safe
    t1 = -(w[:, 0] * d0[:, 1] - w[:, 1] * d0[:, 0]) / safe
    phi = np.arccos(np.clip((d0 * d1).sum(axis=1), -1.0, 1.0))
    turn = (np.abs(cross) > math.sin(math.radians(20))) & (t0 > 0) & (t1 > 0)
    tangent = np.minimum(np.minimum(t0, t1), TURN_RADIUS * np.tan(phi / 2))
    x = p0 + d0 * t0[:, None]
    q0 = np.where(turn[:, None], x - d0 * tangent[:, None], p0)
    q1 = np.where(turn[:, None], x + d1 * tangent[:, None], p1)
    curve = bezier_polyline(q0, d0, q1, d1, LANE_POINTS - 2)
    return np.concatenate([p0[:, None, :], curve, p1[:, None, :]], axis=1)


def _strongly_connected(n_roads: int, arcs: Iterable[tuple[int, int]]) -> bool:
    fwd: list[list[int]] = [[] for _ in range(n_roads)]
    bwd: list[list[int]] = [[] for _ in range(n_roads)]
    for a, b in arcs:
        fwd[a].append(b)
        bwd[b].append(a)
    return all(reaches_all(adj) for adj in (fwd, bwd))


def reaches_all(adj: list[list[int]]) -> bool:
    """Whether every vertex of the adjacency lists ``adj`` is reachable from vertex 0."""
    seen = np.zeros(len(adj), dtype=bool)
    seen[0] = True
    stack = [0]
    while stack:
        x = stack.pop()
        for y in adj[x]:
            if not seen[y]:
                seen[y] = True
                stack.append(y)
    return bool(seen.all())


def build_lanes(nodes: np.ndarray, edges: np.ndarray, lanes: int, lane_width: float,
                radius: np.ndarray, signalized: np.ndarray,
                group_phases: bool = True) -> tuple[LaneGraph, np.ndarray, np.ndarray]:
    """Lane graph and signal phases of a road network.

    :param signalized: (N,) bool, intersections with traffic lights.
    :param group_phases: let facing approaches share a phase (see the module docstring).
    :return: ``(LaneGraph, road_phase (2E,), node_phases (N,))``: the phase of each directed
        road at its end node (-1 if unsignalized) and the number of phases of each light.
    """
    assert lanes in (1, 2), "lanes per direction must be 1 or 2"
    frm, to = directed_roads(edges)
    n_roads, n_nodes = len(frm), len(nodes)
    vec = nodes[to] - nodes[frm]
    road_len = np.linalg.norm(vec, axis=1)
    unit = vec / road_len[:, None]
    heading = np.arctan2(unit[:, 1], unit[:, 0])
    right = np.stack([unit[:, 1], -unit[:, 0]], axis=1)

    # road lanes
    n_road_lanes = n_roads * lanes
    k = np.tile(np.arange(lanes), n_roads)
    d = np.repeat(np.arange(n_roads), lanes)
    offset = (lanes - k - 0.5) * lane_width
    start = nodes[frm[d]] + unit[d] * radius[frm[d], None] + right[d] * offset[:, None]
    end = nodes[to[d]] - unit[d] * radius[to[d], None] + right[d] * offset[:, None]
    t = np.linspace(0.0, 1.0, LANE_POINTS)[None, :, None]
    road_pts = start[:, None, :] * (1 - t) + end[:, None, :] * t
    assert np.all(road_len[d] - radius[frm[d]] - radius[to[d]] > 10.0), "road too short"

    incoming, moves = _movements(frm, to, heading, n_nodes, lanes)
    mv = np.array([m[1:4] for m in moves], dtype=np.int64)  # in road, out road, lane
    paths = turn_paths(road_pts[mv[:, 0] * lanes + mv[:, 2], -1], unit[mv[:, 0]],
                       road_pts[mv[:, 1] * lanes + mv[:, 2], 0], unit[mv[:, 1]])
    by_node: list[list[int]] = [[] for _ in range(n_nodes)]
    for i, m in enumerate(moves):
        by_node[m[0]].append(i)

    def conflicts(node: int) -> np.ndarray:
        """(M, M) bool: movements of ``node`` (of different approaches) that may not share
        a phase: their paths come closer than CONFLICT_DISTANCE or they enter the same lane."""
        ids = by_node[node]
        m = len(ids)
        q = paths[ids].reshape(-1, 2)
        sq = (q * q).sum(axis=1)
        d2 = (sq[:, None] + sq[None, :] - 2.0 * q @ q.T).reshape(m, LANE_POINTS, m, LANE_POINTS)
        close = d2.min(axis=(1, 3)) < CONFLICT_DISTANCE ** 2
        target = np.array([(moves[i][2], moves[i][3]) for i in ids])
        same_exit = np.all(target[:, None, :] == target[None, :, :], axis=-1)
        approach = np.array([moves[i][1] for i in ids])
        return (close | same_exit) & (approach[:, None] != approach[None, :])

    def phases_for(node: int, grouped: bool) -> tuple[list[list[int]], list[int]]:
        """Phase groups (lists of approaches) of one light and the kept movement indices."""
        apps = incoming[node]
        groups: list[list[int]] = []
        used: set[int] = set()
        if grouped and len(apps) >= 4:  # T-junctions keep a phase per approach (see below)
            pairs = sorted((float(unit[a] @ unit[c]), a, c) for i, a in enumerate(apps)
                           for c in apps[i + 1:])
            for dot, a, c in pairs:
                if dot < -0.82 and a not in used and c not in used:
                    groups.append([a, c])
                    used.update((a, c))
        groups += [[a] for a in apps if a not in used]
        groups.sort(key=lambda g: heading[g[0]])
        ids = by_node[node]
        clash = conflicts(node) if any(len(g) > 1 for g in groups) else None
        kept, final = [], []
        for g in groups:
            cand = [q for q, i in enumerate(ids) if moves[i][1] in g]
            if len(g) == 1:
                final.append(g)
                kept += [ids[q] for q in cand]
                continue
            cand.sort(key=lambda q: abs(moves[ids[q]][4]) + (0.5 if moves[ids[q]][4] > 0
                                                              else 0.0))
            ok: list[int] = []
            assert clash is not None  # computed whenever a group has several approaches
            for q in cand:
                if not any(clash[q, r] for r in ok):
                    ok.append(q)
            served = {(moves[ids[q]][1], moves[ids[q]][3]) for q in ok}
            if len(served) < len(g) * lanes:
                for a in g:  # some lane lost every movement: give each approach its own phase
                    final.append([a])
                    kept += [ids[q] for q in cand if moves[ids[q]][1] == a]
            else:
                final.append(g)
                kept += [ids[q] for q in ok]
        return final, kept

    def assemble(grouped: bool) -> tuple[list[int], np.ndarray, np.ndarray]:
        road_phase = -np.ones(n_roads, dtype=np.int64)
        node_phases = np.zeros(n_nodes, dtype=np.int64)
        kept = []
        for node in range(n_nodes):
            if not signalized[node]:
                kept += by_node[node]
                continue
            groups, kn = phases_for(node, grouped)
            node_phases[node] = len(groups)
            for p, g in enumerate(groups):
                for a in g:
                    road_phase[a] = p
            kept += kn
        return sorted(kept), road_phase, node_phases

    kept, road_phase, node_phases = assemble(group_phases)
    arcs = {(moves[i][1], moves[i][2]) for i in kept}
    if group_phases and not _strongly_connected(n_roads, arcs):
        kept, road_phase, node_phases = assemble(False)

    nc = len(kept)
    n_all = n_road_lanes + nc
    pts = np.empty((n_all, LANE_POINTS, 2))
    pts[:n_road_lanes] = road_pts
    kind = np.zeros(n_all, dtype=np.int64)
    kind[n_road_lanes:] = CONNECTOR
    node = np.empty(n_all, dtype=np.int64)
    node[:n_road_lanes] = to[d]
    road = np.empty(n_all, dtype=np.int64)
    road[:n_road_lanes] = d
    index = np.empty(n_all, dtype=np.int64)
    index[:n_road_lanes] = k
    src = -np.ones(n_all, dtype=np.int64)
    dst = -np.ones(n_all, dtype=np.int64)
    turn = np.zeros(n_all)
    for c, i in enumerate(kept):
        nd, a, b, kk, tt = moves[i]
        lid = n_road_lanes + c
        pts[lid] = paths[i]
        node[lid], road[lid], index[lid], turn[lid] = nd, a, kk, tt
        src[lid], dst[lid] = a * lanes + kk, b * lanes + kk
    cum = cumulative_length(pts)
    phase = road_phase[road]
    succ_ptr = np.zeros(n_all + 1, dtype=np.int64)
    conn = np.arange(n_road_lanes, n_all)
    order = np.argsort(src[conn], kind="stable")
    np.add.at(succ_ptr, src[conn] + 1, 1)
    succ_ptr = np.cumsum(succ_ptr)
    succ_idx = conn[order]
    assert np.all(np.diff(succ_ptr[:n_road_lanes + 1]) >= 1), "a lane has no way out"
    graph = LaneGraph(pts=pts, cum=cum, length=cum[:, -1].copy(), kind=kind, node=node,
                      phase=phase, road=road, index=index, src=src, dst=dst, succ_ptr=succ_ptr,
                      succ_idx=succ_idx, turn=turn, n_road=n_road_lanes, lanes=lanes)
    return graph, road_phase, node_phases


def roads_strongly_connected(graph: LaneGraph, n_roads: int) -> bool:
    """Can every directed road be reached from every other (changing lanes along a road)?"""
    c = np.arange(graph.n_road, graph.n_lanes)
    arcs = set(zip(graph.road[graph.src[c]].tolist(), graph.road[graph.dst[c]].tolist(),
                   strict=True))
    return _strongly_connected(n_roads, arcs)


@njit(cache=True)
def match_lanes(lanes: tuple, x: np.ndarray, y: np.ndarray, heading: np.ndarray,
                max_dist: float, max_angle: float, out_lane: np.ndarray,
                out_s: np.ndarray) -> None:
    """Map-match cars seen at ``x, y`` with ``heading`` onto the lane graph (``LaneArrays``,
    a plain tuple from Python): for each car the lane whose centre line passes nearest (within
    ``max_dist`` m) and runs within ``max_angle`` rad of the car's heading, and the car's arc
    length along it, into ``out_lane`` / ``out_s`` (-1 / 0 if none). What a driver does with
    a car on the road: see which lane it is in and which way it goes."""
    lanes = LaneArrays(*lanes)
    pts, cum = lanes.pts, lanes.cum
    for j in range(x.shape[0]):
        best, best_lane, best_s = max_dist, -1, 0.0
        cj, sj = math.cos(heading[j]), math.sin(heading[j])
        for ln in range(pts.shape[0]):
            for k in range(pts.shape[1] - 1):
                ax, ay = pts[ln, k, 0], pts[ln, k, 1]
                dx, dy = pts[ln, k + 1, 0] - ax, pts[ln, k + 1, 1] - ay
                ll = dx * dx + dy * dy
                if ll <= 1e-12:
                    continue
                t = ((x[j] - ax) * dx + (y[j] - ay) * dy) / ll
                t = min(max(t, 0.0), 1.0)
                px, py = ax + t * dx - x[j], ay + t * dy - y[j]
                d = math.sqrt(px * px + py * py)
                if d >= best:
                    continue
                seg = math.sqrt(ll)
                if (cj * dx + sj * dy) / seg < math.cos(max_angle):
                    continue
                best, best_lane = d, ln
                best_s = cum[ln, k] + t * seg
        out_lane[j] = best_lane
        out_s[j] = best_s
