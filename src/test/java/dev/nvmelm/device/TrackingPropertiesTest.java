package dev.nvmelm.device;

import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.LbaMigrationEntry;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.TrackSendCommand;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterTry;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.nvmelm.spec.LbaMigrationEntry.ESA_FIRST;
import static dev.nvmelm.spec.LbaMigrationEntry.ESA_MIDDLE;
import static dev.nvmelm.spec.LbaMigrationEntry.ESA_QUEUE_FULL;
import static dev.nvmelm.spec.LbaMigrationEntry.ESA_STOPPED;
import static dev.nvmelm.spec.LbaMigrationEntry.ESA_SUSPENDED;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random sequences of Track Send start/stop, writes on random I/O queues, head reports (good
 * and bad), Suspend and Resume against the deterministic {@link Sim}, checked against a model
 * of the producer rules. After every step:
 * <ul>
 * <li>every LBA written while tracking was on (and the ring not broken by an ESA 7) is in some
 * logged range, and every logged range was written;</li>
 * <li>the markers seen in the ring follow the logging/suspend automaton (ESA 1 only when
 * logging (re)starts, ESA 2 only when it stops, ESA 3 only on suspend, change entries only
 * while logging, nothing after ESA 7 until a restart);</li>
 * <li>the entries are exactly those the model predicts, statuses included (3Bh when a marker
 * has no room, 39h/3Ah on the wrong side of a suspend, Invalid Field for a bad head).</li>
 * </ul>
 */
class TrackingPropertiesTest {
    static final int N = 16;   // a small ring: wraps, fills and marker refusals happen often
    static final int QUEUES = 3, LBA_SPAN = 256;

    private final List<Model> open = new ArrayList<>();

    @AfterTry
    void closeModels() throws IOException {
        for (Model m : open) m.close();
        open.clear();
    }

    @Property(tries = 120)
    void everyWriteWhileTrackingIsLoggedAndMarkersAreInOrder(@ForAll("chains") ActionChain<Model> chain) {
        Model m = chain.withInvariant("logging invariants", Model::checkInvariants).run();
        // the interesting paths must actually be walked, or the property proves little
        Statistics.label("ring wrapped").collect(m.produced > N);
        Statistics.label("ESA 7").collect(m.sawFull);
        Statistics.label("3Bh refusal").collect(m.sawRefusal);
        Statistics.label("writes ran after a resume").collect(m.sawBurst);
        Statistics.label("ring wrapped").coverage(c -> c.check(true).percentage(p -> p > 20));
        Statistics.label("ESA 7").coverage(c -> c.check(true).percentage(p -> p > 5));
        Statistics.label("3Bh refusal").coverage(c -> c.check(true).percentage(p -> p > 3));
        Statistics.label("writes ran after a resume").coverage(c -> c.check(true).percentage(p -> p > 10));
    }

    @Provide
    Arbitrary<ActionChain<Model>> chains() {
        return ActionChain.<Model>startWith(() -> {
                    Model m = new Model();
                    open.add(m);
                    return m;
                })
                .withAction(2, Action.just("track start", Transformer.mutate("track start", Model::trackStart)))
                .withAction(1, Action.just("track stop", Transformer.mutate("track stop", Model::trackStop)))
                .withAction(8, new WriteAction())
                .withAction(1, Action.just("suspend", Transformer.mutate("suspend", Model::suspend)))
                .withAction(2, Action.just("resume", Transformer.mutate("resume", Model::resume)))
                .withAction(3, new HeadAction())
                .withAction(1, new BadHeadAction())
                .withMaxTransformations(60);
    }

    record Write(int qid, int kind, long slba, int blocks) {
        static final int WRITE = 0, ZEROES = 1, ZEROES_DEALLOCATE = 2;

        Sqe sqe(Sim sim, Sim.Host mc) {
            return switch (kind) {
                case WRITE -> mc.withData(IoCommands.write(1, slba, blocks, false).toSqe(), sim.alloc(blocks * (long) Fx.LBA));
                default -> new IoCommands.WriteZeroes(1, slba, blocks - 1, kind == ZEROES_DEALLOCATE).toSqe();
            };
        }
    }

    static final class WriteAction implements Action.Independent<Model> {
        @Override
        public boolean precondition(Model m) {
            return m.pendingCount() < 40;
        }

        @Override
        public Arbitrary<Transformer<Model>> transformer() {
            return Combinators.combine(Arbitraries.integers().between(1, QUEUES), Arbitraries.integers().between(0, 2),
                            Arbitraries.longs().between(0, LBA_SPAN - 8), Arbitraries.integers().between(1, 8))
                    .as(Write::new).map(w -> Transformer.mutate(w.toString(), m -> m.write(w)));
        }
    }

    static final class HeadAction implements Action.Independent<Model> {
        @Override
        public Arbitrary<Transformer<Model>> transformer() {
            return Arbitraries.integers().between(0, 100).map(pct -> Transformer.mutate("report head " + pct + "%", m -> m.reportHead(pct)));
        }
    }

    static final class BadHeadAction implements Action.Independent<Model> {
        @Override
        public Arbitrary<Transformer<Model>> transformer() {
            return Arbitraries.integers().between(0, N).map(k -> Transformer.mutate("bad head " + k, m -> m.badHead(k)));
        }
    }

    /** The system under test, the model's prediction of it, and what was observed. */
    static final class Model implements AutoCloseable {
        final Path dir;
        final Fx fx;
        final Ring ring;
        // the model of the controller
        boolean logging, broken, suspended;
        long produced, head;   // entries written / head reported, counted over all passes
        final Map<Integer, Deque<Pending>> pending = new HashMap<>();
        // the property's bookkeeping
        final BitSet written = new BitSet(), expected = new BitSet(), logged = new BitSet();
        // the marker automaton, driven by observed entries only
        Seen seen = Seen.OFF;
        boolean seenSuspended;
        boolean sawFull, sawRefusal, sawBurst;

        enum Seen { OFF, ON, BROKEN }

        record Pending(Write w, int cid) {}

        Model() {
            try {
                dir = Files.createTempDirectory("nvmelm-track-prop");
                fx = new Fx(dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            fx.mc.createIoQueues(3, 64);
            ring = fx.createCdq(1, N);
            for (int q = 1; q <= QUEUES; q++) pending.put(q, new ArrayDeque<>());
        }

        int free() {
            return (int) (N - 1 - (produced - head));
        }

        int pendingCount() {
            return pending.values().stream().mapToInt(Deque::size).sum();
        }

        boolean phase(long k) {
            return (k / N) % 2 == 0;
        }

        /** Predicts a marker entry (the caller checked the room). */
        LbaMigrationEntry marker(int esa) {
            return LbaMigrationEntry.marker(esa, phase(produced++));
        }

        /** Predicts a change entry for a completed write; null if nothing is logged. */
        LbaMigrationEntry change(Write w) {
            written.set((int) w.slba(), (int) (w.slba() + w.blocks()));
            if (!logging || broken) return null;
            expected.set((int) w.slba(), (int) (w.slba() + w.blocks()));
            LbaMigrationEntry e = LbaMigrationEntry.range(1, w.slba(), w.blocks(), phase(produced++));
            if (free() == 0) {
                broken = true;
                return e.withEsa(ESA_QUEUE_FULL);
            }
            return e;
        }

        Status admin(Sqe sqe) {
            Status s = fx.mmc.admin(sqe).status();
            sawRefusal |= s.equals(Status.dnr(StatusCodes.CDQ_FULL));
            return s;
        }

        /** The entries this step produced must be exactly {@code predicted}. */
        void observe(List<LbaMigrationEntry> predicted) {
            List<LbaMigrationEntry> got = ring.poll();
            assertThat(got).isEqualTo(predicted);
            see(got);
        }

        /** Feeds observed entries to the marker automaton and the logged set. */
        void see(List<LbaMigrationEntry> got) {
            for (LbaMigrationEntry e : got) {
                switch (e.esa()) {
                    case ESA_MIDDLE, ESA_QUEUE_FULL -> {
                        assertThat(seen).as("a change entry while logging").isEqualTo(Seen.ON);
                        assertThat(seenSuspended).isFalse();
                        assertThat(e.lbaci()).isEqualTo(LbaMigrationEntry.LBACI_RANGE);
                        logged.set((int) e.slba(), (int) (e.slba() + e.blockCount()));
                        if (e.esa() == ESA_QUEUE_FULL) {
                            seen = Seen.BROKEN;
                            sawFull = true;
                        }
                    }
                    case ESA_FIRST -> {
                        if (seenSuspended) {   // Resume while logging
                            assertThat(seen).as("ESA 1 on resume only while logging").isEqualTo(Seen.ON);
                            seenSuspended = false;
                        } else {
                            assertThat(seen).as("ESA 1 only when logging (re)starts").isNotEqualTo(Seen.ON);
                        }
                        seen = Seen.ON;
                    }
                    case ESA_STOPPED -> {
                        assertThat(seenSuspended).isFalse();
                        assertThat(seen).as("ESA 2 only when logging stops").isNotEqualTo(Seen.OFF);
                        seen = Seen.OFF;
                    }
                    case ESA_SUSPENDED -> {
                        assertThat(seenSuspended).as("ESA 3 only on a suspend").isFalse();
                        seenSuspended = true;
                    }
                    default -> throw new AssertionError("reserved ESA in " + e);
                }
                if (e.esa() != ESA_MIDDLE && e.esa() != ESA_QUEUE_FULL) assertThat(e.lbaci()).isEqualTo(LbaMigrationEntry.LBACI_NONE);
            }
        }

        void trackStart() {
            Status s = admin(TrackSendCommand.start(ring.cdqid).toSqe());
            List<LbaMigrationEntry> p = new ArrayList<>();
            if (suspended) {
                assertThat(s).isEqualTo(Status.dnr(StatusCodes.CTRL_SUSPENDED));
            } else if (logging && !broken) {
                assertThat(s).isEqualTo(Status.SUCCESS);
            } else if (free() < 2) {
                assertThat(s).isEqualTo(Status.dnr(StatusCodes.CDQ_FULL));
            } else {
                assertThat(s).isEqualTo(Status.SUCCESS);
                p.add(marker(ESA_FIRST));
                logging = true;
                broken = false;
            }
            observe(p);
        }

        void trackStop() {
            Status s = admin(TrackSendCommand.stop(ring.cdqid).toSqe());
            List<LbaMigrationEntry> p = new ArrayList<>();
            if (suspended) {
                assertThat(s).isEqualTo(Status.dnr(StatusCodes.CTRL_SUSPENDED));
            } else if (!logging) {
                assertThat(s).isEqualTo(Status.SUCCESS);
            } else if (free() < 2) {
                assertThat(s).isEqualTo(Status.dnr(StatusCodes.CDQ_FULL));
            } else {
                assertThat(s).isEqualTo(Status.SUCCESS);
                p.add(marker(ESA_STOPPED));
                logging = false;
                broken = false;
            }
            observe(p);
        }

        void write(Write w) {
            int cid = fx.mc.submit(w.qid(), w.sqe(fx.sim, fx.mc));
            fx.sim.run();
            Cqe c = fx.mc.completion(w.qid(), cid);
            if (suspended) {
                assertThat(c).as("not fetched while suspended").isNull();
                pending.get(w.qid()).add(new Pending(w, cid));
                observe(List.of());
                return;
            }
            assertThat(c.status()).isEqualTo(Status.SUCCESS);
            LbaMigrationEntry e = change(w);
            observe(e == null ? List.of() : List.of(e));
        }

        void suspend() {
            Status s = admin(new MigrationSendCommand.Suspend(1, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe());
            List<LbaMigrationEntry> p = new ArrayList<>();
            if (suspended) {
                assertThat(s).isEqualTo(Status.SUCCESS);
            } else if (free() < 2) {
                assertThat(s).isEqualTo(Status.dnr(StatusCodes.CDQ_FULL));
            } else {
                assertThat(s).isEqualTo(Status.SUCCESS);
                p.add(marker(ESA_SUSPENDED));
                suspended = true;
            }
            observe(p);
        }

        void resume() {
            Status s = admin(new MigrationSendCommand.Resume(1, 0).toSqe());
            if (!suspended) {
                assertThat(s).isEqualTo(Status.dnr(StatusCodes.CTRL_NOT_SUSPENDED));
                observe(List.of());
                return;
            }
            boolean marks = logging && !broken;
            if (marks && free() < 2) {
                assertThat(s).isEqualTo(Status.dnr(StatusCodes.CDQ_FULL));
                observe(List.of());
                return;
            }
            assertThat(s).isEqualTo(Status.SUCCESS);
            suspended = false;
            List<LbaMigrationEntry> got = ring.poll();
            int at = 0;
            if (marks) {
                assertThat(got).isNotEmpty();
                assertThat(got.getFirst()).isEqualTo(marker(ESA_FIRST));
                at = 1;
            }
            // the writes that waited run now, in the controller's fetch order across queues:
            // compare as a multiset; within one queue they keep their order
            List<Pending> burst = new ArrayList<>();
            for (int q = 1; q <= QUEUES; q++) {
                for (Pending pw : pending.get(q)) {
                    Cqe c = fx.mc.completion(q, pw.cid());
                    assertThat(c).as("%s ran after the resume", pw.w()).isNotNull();
                    assertThat(c.status()).isEqualTo(Status.SUCCESS);
                    burst.add(pw);
                }
                pending.get(q).clear();
            }
            int logCount = 0;
            boolean fills = false;
            if (logging && !broken) {
                logCount = Math.min(burst.size(), free());
                fills = burst.size() >= free() && free() > 0;
            }
            sawBurst |= !burst.isEmpty();
            List<LbaMigrationEntry> changes = got.subList(at, got.size());
            assertThat(changes).hasSize(logCount);
            List<String> loggedRanges = new ArrayList<>(), burstRanges = new ArrayList<>();
            for (int i = 0; i < changes.size(); i++) {
                LbaMigrationEntry e = changes.get(i);
                assertThat(e.phase()).isEqualTo(phase(produced + i));
                assertThat(e.nsid()).isEqualTo(1);
                assertThat(e.esa()).isEqualTo(fills && i == changes.size() - 1 ? ESA_QUEUE_FULL : ESA_MIDDLE);
                loggedRanges.add(e.slba() + "+" + e.blockCount());
            }
            for (Pending pw : burst) {
                burstRanges.add(pw.w().slba() + "+" + pw.w().blocks());
                written.set((int) pw.w().slba(), (int) (pw.w().slba() + pw.w().blocks()));
            }
            for (String r : loggedRanges) assertThat(burstRanges.remove(r)).as("logged range %s is one of the waiting writes", r).isTrue();
            if (logging && !broken && !fills) {
                for (Pending pw : burst) expected.set((int) pw.w().slba(), (int) (pw.w().slba() + pw.w().blocks()));
            }
            produced += logCount;
            if (fills) broken = true;
            if (!marks) seenSuspended = false;   // a resume that logs nothing leaves no marker to see
            see(got);
        }

        void reportHead(int pct) {
            long to = head + (produced - head) * pct / 100;
            Status s = ring.setHead((int) (to % N), false, 0);
            assertThat(s).isEqualTo(Status.SUCCESS);
            head = to;
            observe(List.of());
        }

        /** A slot outside [head, tail]: there are free() of them. */
        void badHead(int k) {
            if (free() == 0) return;
            int slot = (int) ((produced + 1 + k % free()) % N);
            assertThat(ring.setHead(slot, true, 0)).isEqualTo(Status.dnr(StatusCodes.INVALID_FIELD));
            observe(List.of());
        }

        void checkInvariants() {
            BitSet missing = (BitSet) expected.clone();
            missing.andNot(logged);
            assertThat(missing.isEmpty()).as("written while tracking but not logged: %s", missing).isTrue();
            BitSet spurious = (BitSet) logged.clone();
            spurious.andNot(written);
            assertThat(spurious.isEmpty()).as("logged but never written: %s", spurious).isTrue();
            assertThat(fx.sim.subsystem.controller(1).migrationState())
                    .isEqualTo(suspended ? Controller.State.SUSPENDED : Controller.State.ACTIVE);
            assertThat(ring.consumed).isEqualTo(produced);
            assertThat(fx.fatal(fx.mmc) || fx.fatal(fx.mc)).isFalse();
        }

        @Override
        public void close() throws IOException {
            fx.close();
            try (var files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }

        @Override
        public String toString() {
            return "Model[logging=" + logging + ", broken=" + broken + ", suspended=" + suspended + ", produced=" + produced
                    + ", head=" + head + ", pending=" + pendingCount() + "]";
        }
    }
}
