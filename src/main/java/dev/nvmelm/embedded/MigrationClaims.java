package dev.nvmelm.embedded;

import dev.nvmelm.spec.MigrationSendCommand;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Who runs the migration of which migratable controller, so that one client cannot perform a
 * step of another client's migration. The client (session) whose Suspend or Set Controller
 * State of MC C the server forwarded holds C until C is resumed or the client disconnects;
 * while it does, every other client's Migration Send naming C is refused. The switchover
 * (Handover) is accepted only from the client holding the source, with the destination
 * suspended and loaded with a complete controller state, and it is recorded: a controller whose
 * queues moved away is not resumed until the destination's Resume committed the switchover and
 * the server reset the source (until then its queues would run twice, on both MCs).
 * Each method is short and waits on nothing: the server calls them on its clients' threads.
 */
final class MigrationClaims {
    /**
     * A switchover the server performed: MC {@code from}'s queues run on MC {@code to};
     * {@code committed} once {@code to} resumed (then the source's stale queues are reset).
     */
    record Moved(int to, DeviceSession by, boolean committed) {}

    private final Map<Integer, DeviceSession> holder = new HashMap<>();
    private final Set<Integer> loaded = new HashSet<>();     // MCs given a complete state since they last ran
    private final Map<Integer, Moved> moved = new HashMap<>();
    private final Map<Integer, DeviceSession> quiesced = new HashMap<>();   // MCs whose guest I/O a client holds
    private final Map<Integer, String> movedAway = new HashMap<>();        // MCs detached after a move to another host

    /**
     * Checks {@code cmd} from {@code s} and claims its MC for {@code s} if nobody holds it.
     * Returns the refusal, or empty when the command may go to the controller.
     */
    synchronized Optional<String> admit(DeviceSession s, MigrationSendCommand cmd) {
        int c = cmd.cntlid();
        DeviceSession h = holder.get(c);
        if (h != null && h != s) {
            return Optional.of("controller " + c + " is being migrated by another client; only that client may suspend, resume or load it");
        }
        if (cmd instanceof MigrationSendCommand.Resume && moved.containsKey(c) && !moved.get(c).committed()) {
            return Optional.of("controller " + c + " is suspended: migrated to " + moved.get(c).to()
                    + "; its queues run there, and resuming it would run them twice");
        }
        if (!(cmd instanceof MigrationSendCommand.Resume)) holder.put(c, s);
        return Optional.empty();
    }

    /**
     * The controller's answer to an admitted command. Returns the source MC of a switchover
     * this Resume committed: its queues are stale copies of the destination's, and the server
     * resets it so that nothing can run them twice.
     */
    synchronized Optional<Integer> completed(DeviceSession s, MigrationSendCommand cmd, boolean ok) {
        int c = cmd.cntlid();
        switch (cmd) {
            case MigrationSendCommand.Resume r -> {
                if (!ok) return Optional.empty();
                holder.remove(c);
                loaded.remove(c);
                moved.remove(c);   // resumed after the reset: it runs on its own again
                movedAway.remove(c);
                for (Map.Entry<Integer, Moved> e : moved.entrySet()) {
                    if (e.getValue().to() == c && !e.getValue().committed()) {
                        e.setValue(new Moved(c, e.getValue().by(), true));
                        return Optional.of(e.getKey());
                    }
                }
            }
            case MigrationSendCommand.SetControllerState st -> {
                if (ok && (st.seqind() == MigrationSendCommand.SEQIND_LAST || st.seqind() == MigrationSendCommand.SEQIND_ENTIRE)) {
                    loaded.add(c);
                    moved.remove(c);   // new queue state: the queues that moved away are no longer this MC's
                } else if (st.seqind() != MigrationSendCommand.SEQIND_MIDDLE) loaded.remove(c);
            }
            case MigrationSendCommand.Suspend su -> {
                if (!ok && holder.get(c) == s && !loaded.contains(c)) holder.remove(c);
            }
        }
        return Optional.empty();
    }

    /**
     * Whether {@code s} may switch MC {@code from}'s queues to MC {@code to} now; {@code fromSuspended}
     * and {@code toSuspended} are the controllers' states. A switch back (the abort of a
     * switchover whose destination never resumed) is accepted from the client that switched.
     */
    synchronized Optional<String> admitHandover(DeviceSession s, int from, int to, boolean fromSuspended, boolean toSuspended) {
        Moved back = moved.get(to);
        if (back != null && back.to() == from && !back.committed()) {
            if (back.by() != s) return Optional.of("the switchover " + to + " -> " + from + " was made by another client; only it may undo it");
            if (!fromSuspended || !toSuspended) return Optional.of("controller " + from + " already runs: the switchover can no longer be undone");
            return Optional.empty();
        }
        if (holder.get(from) != s) return Optional.of("controller " + from + " is not suspended by this client: only the client migrating it may switch its queues");
        if (!fromSuspended) return Optional.of("controller " + from + " is not suspended");
        if (!toSuspended || !loaded.contains(to)) {
            return Optional.of("controller " + to + " has not been loaded with a controller state (Suspend, then Set Controller State)");
        }
        if (moved.containsKey(from)) return Optional.of("controller " + from + " was already migrated to " + moved.get(from).to());
        if (back != null && !loaded.contains(to)) return Optional.of("controller " + to + " was migrated away and has not been loaded since");
        return Optional.empty();
    }

    /** Records a switchover the server performed. */
    synchronized void handedOver(DeviceSession s, int from, int to) {
        Moved back = moved.get(to);
        if (back != null && back.to() == from && !back.committed()) {
            moved.remove(to);   // undone
            return;
        }
        moved.put(from, new Moved(to, s, false));
        loaded.remove(to);
    }

    /** Where MC {@code cntlid}'s queues went, if they were switched away. */
    synchronized Optional<Integer> migratedTo(int cntlid) {
        Moved m = moved.get(cntlid);
        return m == null ? Optional.empty() : Optional.of(m.to());
    }

    /**
     * Whether {@code s} may quiesce, release or detach MC {@code c}'s guest I/O: only the client
     * migrating it (a quiesce claims an MC nobody holds, as a Suspend does). A detach also needs
     * {@code c} suspended. Records the step when admitted; returns the refusal, or empty.
     */
    synchronized Optional<String> admitGate(DeviceSession s, int c, dev.nvmelm.host.sim.SimMessage.GateStep step, boolean suspended) {
        DeviceSession h = holder.get(c);
        if (h != null && h != s) return Optional.of("controller " + c + " is being migrated by another client; only that client may quiesce or release its guests");
        switch (step) {
            case QUIESCE -> {
                if (movedAway.containsKey(c)) return Optional.of("controller " + c + " is suspended: migrated to " + movedAway.get(c));
                holder.put(c, s);
                quiesced.put(c, s);
            }
            case RELEASE -> {
                if (quiesced.get(c) != s) return Optional.of("controller " + c + "'s guests are not quiesced by this client");
                quiesced.remove(c);
            }
            case DETACH -> {
                if (quiesced.get(c) != s) return Optional.of("controller " + c + "'s guests are not quiesced by this client: quiesce them before the stop");
                if (!suspended) return Optional.of("controller " + c + " is not suspended: its guests can only be detached after the stop");
                quiesced.remove(c);
            }
        }
        return Optional.empty();
    }

    /** A quiesce that could not finish released its held commands: nothing is held for {@code s} any more. */
    synchronized void quiesceFailed(DeviceSession s, int c) {
        quiesced.remove(c, s);
    }

    /** Records that MC {@code c}'s guests were detached: its namespace runs at {@code where} now. */
    synchronized void detached(int c, String where) {
        movedAway.put(c, where);
    }

    /** Where MC {@code cntlid} went when it moved to another host, if it did. */
    synchronized Optional<String> movedAway(int cntlid) {
        return Optional.ofNullable(movedAway.get(cntlid));
    }

    /**
     * A departed client holds nothing: another may then resume what it left suspended. Returns
     * the MCs whose guest I/O it had quiesced: the server releases them.
     */
    synchronized java.util.List<Integer> release(DeviceSession s) {
        holder.values().removeIf(h -> h == s);
        java.util.List<Integer> held = new java.util.ArrayList<>();
        quiesced.entrySet().removeIf(e -> {
            if (e.getValue() != s) return false;
            held.add(e.getKey());
            return true;
        });
        return held;
    }
}
