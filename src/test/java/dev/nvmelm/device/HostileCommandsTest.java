package dev.nvmelm.device;

import dev.nvmelm.spec.Cqe;
import dev.nvmelm.spec.LittleEndian;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.AdminOpcode;
import dev.nvmelm.spec.IoOpcode;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.StatusCodes;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.Size;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Random, mostly malformed commands from a hostile host, to the MMC's admin queue, an MC's
 * admin queue and an MC's I/O queues: every command completes with a status (never Internal
 * Error), the controller never reaches a fatal status, nothing is thrown out of its executor,
 * and memory the commands never pointed at is never written.
 */
class HostileCommandsTest {
    static final int DATA_PAGES = 16;
    static final int[] ADMIN_OPS = {AdminOpcode.IDENTIFY.value(), AdminOpcode.GET_LOG_PAGE.value(), AdminOpcode.SET_FEATURES.value(), AdminOpcode.GET_FEATURES.value(),
            AdminOpcode.CREATE_IO_CQ.value(), AdminOpcode.CREATE_IO_SQ.value(), AdminOpcode.DELETE_IO_CQ.value(), AdminOpcode.DELETE_IO_SQ.value(), AdminOpcode.ABORT.value(),
            AdminOpcode.GET_LBA_STATUS.value(), AdminOpcode.CONTROLLER_DATA_QUEUE.value(), AdminOpcode.TRACK_SEND.value(), AdminOpcode.TRACK_RECEIVE.value(),
            AdminOpcode.MIGRATION_SEND.value(), AdminOpcode.MIGRATION_RECEIVE.value()};
    static final int[] IO_OPS = {IoOpcode.FLUSH.value(), IoOpcode.WRITE.value(), IoOpcode.READ.value(), IoOpcode.WRITE_ZEROES.value(), IoOpcode.DATASET_MANAGEMENT.value(),
            IoOpcode.COPY.value()};

    /** A command with its data pointers chosen among: none, the data buffer (aligned or not), a PRP list, unmapped, random. */
    record Raw(int opcode, int flags, int nsid, int[] cdw, int prp1Kind, int prp2Kind, int offset, long random) {
        Sqe sqe(Env env) {
            return new Sqe(opcode, flags, 0, nsid, 0, 0, 0, env.pointer(prp1Kind, offset, random), env.pointer(prp2Kind, offset >>> 3, random),
                    cdw[0], cdw[1], cdw[2], cdw[3], cdw[4], cdw[5]);
        }

        @Override
        public String toString() {
            return String.format("op %02x flags %02x nsid %x cdw10-15 %s prp %d/%d", opcode, flags, nsid, java.util.Arrays.toString(cdw), prp1Kind, prp2Kind);
        }
    }

    static final class Env implements AutoCloseable {
        final Path dir;
        final Fx fx;
        final Sim.Buf before, data, list, after;

        Env() throws IOException {
            dir = Files.createTempDirectory("nvmelm-hostile");
            fx = new Fx(dir);
            before = fx.sim.alloc(8192);
            data = fx.sim.alloc(DATA_PAGES * 4096L);
            list = fx.sim.alloc(4096);
            after = fx.sim.alloc(8192);
            before.seg().fill((byte) 0xc3);
            after.seg().fill((byte) 0xc3);
            for (int i = 0; i < 512; i++) list.seg().set(LittleEndian.U64, i * 8L, i % 7 == 6 ? 0xdead_0000L + i : data.iova() + (i % DATA_PAGES) * 4096L);
        }

        long pointer(int kind, int offset, long random) {
            return switch (kind) {
                case 0 -> 0;
                case 1 -> data.iova() + (offset & (DATA_PAGES - 1)) * 4096L;
                case 2 -> data.iova() + (offset & 0xfffc);
                case 3 -> data.iova() + (offset & 0xffff);
                case 4 -> list.iova() + (offset & 0xff8);
                case 5 -> 0x7000_0000_0000L + offset;
                default -> random;
            };
        }

        void checkCanaries() {
            assertThat(before.seg().toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0xc3);
            assertThat(after.seg().toArray(ValueLayout.JAVA_BYTE)).containsOnly((byte) 0xc3);
        }

        @Override
        public void close() throws IOException {
            fx.close();
            try (var files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }

    /** A byte that is usually 0 or a small value (selectors, IDs, flags) and sometimes anything. */
    static Arbitrary<Integer> fieldByte(int zeroWeight) {
        return Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(zeroWeight, Arbitraries.just(0)),
                net.jqwik.api.Tuple.of(3, Arbitraries.integers().between(1, 6)),
                net.jqwik.api.Tuple.of(1, Arbitraries.of(0x20, 0x21, 0x80, 0xc0, 0xff)),
                net.jqwik.api.Tuple.of(2, Arbitraries.integers().between(0, 255)));
    }

    /** Command dwords built field by field, so that valid selectors meet out-of-range sizes and offsets. */
    static Arbitrary<Integer> dword() {
        return Combinators.combine(fieldByte(1), fieldByte(5), fieldByte(3), fieldByte(5))
                .as((b0, b1, b2, b3) -> b0 | b1 << 8 | b2 << 16 | b3 << 24);
    }

    static Arbitrary<Raw> raw(int[] opcodes) {
        Arbitrary<Integer> op = Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(9, Arbitraries.of(java.util.Arrays.stream(opcodes).boxed().toList())),
                net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(0, 255)));
        Arbitrary<Integer> flags = Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(9, Arbitraries.just(0)),
                net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(0, 255)));
        Arbitrary<Integer> nsid = Arbitraries.frequencyOf(net.jqwik.api.Tuple.of(6, Arbitraries.integers().between(0, 3)),
                net.jqwik.api.Tuple.of(1, Arbitraries.just(-1)), net.jqwik.api.Tuple.of(1, Arbitraries.integers()));
        Arbitrary<int[]> cdws = dword().list().ofSize(6).map(l -> l.stream().mapToInt(Integer::intValue).toArray());
        Arbitrary<Integer> kind = Arbitraries.integers().between(0, 6);
        return Combinators.combine(op, flags, nsid, cdws, kind, kind, Arbitraries.integers().between(0, 0xffff), Arbitraries.longs())
                .as(Raw::new).filter(r -> r.opcode() != AdminOpcode.ASYNC_EVENT_REQUEST.value());   // an AER completes only on an event
    }

    @Provide
    Arbitrary<List<Raw>> adminCommands() {
        return raw(ADMIN_OPS).list();
    }

    @Provide
    Arbitrary<List<Raw>> ioCommands() {
        return raw(IO_OPS).list();
    }

    static void expectCompletion(Sim.Host host, int qid, Sqe sqe, Raw r) {
        Cqe c = host.exec(qid, sqe);
        assertThat(c.status().is(StatusCodes.INTERNAL)).as("Internal Error for %s", r).isFalse();
    }

    @Property(tries = 40)
    void hostileCommandsAlwaysCompleteAndNeverWriteOutsideTheirBuffers(@ForAll("adminCommands") @Size(max = 60) List<Raw> mmcAdmin,
                                                                        @ForAll("adminCommands") @Size(max = 30) List<Raw> mcAdmin,
                                                                        @ForAll("ioCommands") @Size(max = 60) List<Raw> io) throws Exception {
        try (Env env = new Env()) {
            Fx fx = env.fx;
            Ring ring = fx.createCdq(1, 64);
            fx.trackStart(ring);
            for (Raw r : mmcAdmin) expectCompletion(fx.mmc, 0, r.sqe(env), r);
            // whatever the MMC was told, MC 1 runs unthrottled again before its own turn
            fx.mmc.admin(new MigrationSendCommand.Resume(1, 0).toSqe());
            fx.mmc.admin(Sqe.of(AdminOpcode.SET_FEATURES).withCdw10(dev.nvmelm.spec.WriteThrottleFeature.FID).withCdw11(1));
            for (Raw r : mcAdmin) {
                if (r.opcode() == AdminOpcode.DELETE_IO_SQ.value() || r.opcode() == AdminOpcode.DELETE_IO_CQ.value()) continue;   // keep the I/O queues for the next part
                expectCompletion(fx.mc, 0, r.sqe(env), r);
            }
            for (int i = 0; i < io.size(); i++) expectCompletion(fx.mc, 1 + i % 2, io.get(i).sqe(env), io.get(i));
            env.checkCanaries();
            for (int c = 0; c < fx.sim.subsystem.controllerCount(); c++) {
                assertThat(fx.sim.subsystem.controller(c).read32(dev.nvmelm.spec.bus.Registers.CSTS) & dev.nvmelm.spec.bus.Registers.CSTS_CFS)
                        .as("CSTS.CFS of controller %d", c).isZero();
            }
            assertThat(fx.sim.steps.escaped).isEmpty();
        }
    }

    @Property(tries = 200)
    void everyAdminCommandOfTheMmcCompletes(@ForAll("adminCommands") @Size(max = 1) List<Raw> one) throws Exception {
        // one command at a time on a fresh subsystem: the shrinker then names the culprit directly
        try (Env env = new Env()) {
            for (Raw r : one) expectCompletion(env.fx.mmc, 0, r.sqe(env), r);
            env.checkCanaries();
            assertThat(env.fx.fatal(env.fx.mmc)).isFalse();
        }
    }
}
