package dev.nvmelm.migrate.state;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.nvmelm.migrate.state.MigState.*;

/**
 * The legal single arcs (Linux VFIO migration v2, STOP_COPY + PRE_COPY without P2P) and the
 * combination rule: any other (from, to) is walked as the shortest path of legal arcs whose
 * interior avoids the saving group. STOP_COPY -> PRE_COPY is blocked, and ERROR is never a
 * target; the planner terminates on both (the 2026 kernel fix for vfio_mig_get_next_state's
 * endless loop on the ERROR sentinel).
 */
public final class Arcs {
    private Arcs() {}

    private static final Map<MigState, Set<MigState>> LEGAL = new EnumMap<>(Map.of(
            RUNNING, Set.of(STOP, PRE_COPY),
            STOP, Set.of(RUNNING, STOP_COPY, RESUMING),
            STOP_COPY, Set.of(STOP),
            RESUMING, Set.of(STOP),
            PRE_COPY, Set.of(RUNNING, STOP_COPY),
            ERROR, Set.of()));

    public static boolean isArc(MigState from, MigState to) {
        return LEGAL.get(from).contains(to);
    }

    /**
     * The arcs from {@code from} to {@code to}, as the list of states after each arc (empty
     * when from == to).
     * @throws IllegalTransitionException naming both states when no legal path exists
     */
    public static List<MigState> plan(MigState from, MigState to) {
        if (from == to) return List.of();
        if (to == ERROR) throw new IllegalTransitionException(from, to, "ERROR cannot be requested");
        if (from == ERROR) throw new IllegalTransitionException(from, to, "a controller in ERROR needs a reset");
        if (from == STOP_COPY && to == PRE_COPY) {
            throw new IllegalTransitionException(from, to, "the saving group cannot go back to pre-copy");
        }
        Map<MigState, MigState> parent = new EnumMap<>(MigState.class);
        ArrayDeque<MigState> queue = new ArrayDeque<>(List.of(from));
        parent.put(from, from);
        while (!queue.isEmpty()) {
            MigState s = queue.poll();
            for (MigState n : LEGAL.get(s)) {
                if (parent.containsKey(n)) continue;
                // saving-group states may appear only at the start or the end of a path
                if (n.inSavingGroup() && n != to) continue;
                parent.put(n, s);
                if (n == to) return unwind(parent, from, to);
                queue.add(n);
            }
        }
        throw new IllegalTransitionException(from, to, "no legal path");
    }

    private static List<MigState> unwind(Map<MigState, MigState> parent, MigState from, MigState to) {
        List<MigState> path = new ArrayList<>();
        for (MigState s = to; s != from; s = parent.get(s)) path.add(s);
        Collections.reverse(path);
        return List.copyOf(path);
    }
}
