package dev.nvmelm.device;

import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.AdminOpcode;
import dev.nvmelm.spec.CdqFeature;
import dev.nvmelm.spec.ControllerChoices;
import dev.nvmelm.spec.ControllerDataQueueCommand;
import dev.nvmelm.spec.ControllerState;
import dev.nvmelm.spec.HmlmCommandStatuses;
import dev.nvmelm.spec.MigrationReceiveCommand;
import dev.nvmelm.spec.MigrationSendCommand;
import dev.nvmelm.spec.Sqe;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.StatusCodes;
import dev.nvmelm.spec.TrackSendCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every HMLM command specific status (1Fh, 37h-3Bh) the controller returns is one the ratified
 * text assigns to that command: NVMe Base 2.1, Figure 103 (page 168) and the figures of each
 * command (362, 348, 169, 456, 374), as {@link HmlmCommandStatuses} holds them. The spec-exact
 * controller ({@link ControllerChoices#SPEC}) never departs; nvme-lm's default departs in exactly
 * one place, the 3Bh of a Suspend with no room for its marker.
 */
class HmlmStatusFiguresTest {
    record Answer(AdminOpcode command, Status status) {}

    /** Runs commands through the error paths of every HMLM command and returns every answer. */
    static List<Answer> errorPaths(Path dir, ControllerChoices choices) throws Exception {
        List<Answer> out = new ArrayList<>();
        try (Fx fx = ControllerChoicesTest.fx(dir, choices, 2)) {
            java.util.function.Function<Sqe, Status> admin = sqe -> {
                Status s = fx.mmc.admin(sqe).status();
                out.add(new Answer(AdminOpcode.of(sqe.opcode()).orElseThrow(), s));
                return s;
            };
            admin.apply(new ControllerDataQueueCommand.Create(0, true, 9, 16, fx.sim.alloc(4096).iova()).toSqe());   // unknown CNTLID
            admin.apply(new ControllerDataQueueCommand.Delete(77).toSqe());                                        // unknown CDQID
            admin.apply(new CdqFeature.SetCdq(77, 0, false, 0).toSqe());
            admin.apply(fx.mmc.withData(new CdqFeature.GetCdq(77).toSqe(), fx.sim.alloc(CdqFeature.CdqFeatureData.SIZE)));
            admin.apply(TrackSendCommand.start(77).toSqe());
            admin.apply(new MigrationSendCommand.Resume(1, 0).toSqe());                                            // not suspended
            admin.apply(new MigrationSendCommand.Suspend(9, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe());
            admin.apply(fx.mmc.withData(MigrationReceiveCommand.read(9, 1, 0, 64).toSqe(), fx.sim.alloc(4096)));
            byte[] state = new ControllerState(0, true, 0, List.of(), List.of(), new byte[0]).encode();
            Sim.Buf buf = fx.sim.alloc(state.length);
            buf.seg().copyFrom(java.lang.foreign.MemorySegment.ofArray(state));
            admin.apply(fx.mmc.withData(new MigrationSendCommand.SetControllerState(2, MigrationSendCommand.SEQIND_ENTIRE, 1, 0, 0, 0,
                    state.length / 4).toSqe(), buf));                                                              // MC 2 not suspended

            Ring ring = fx.createCdq(1, 8);
            admin.apply(TrackSendCommand.start(ring.cdqid).toSqe());   // slot 0
            for (int i = 1; i <= 5; i++) fx.write(1, i, 1);            // one free slot left
            admin.apply(TrackSendCommand.stop(ring.cdqid).toSqe());    // no room for ESA 2
            admin.apply(new MigrationSendCommand.Suspend(1, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe());   // no room for ESA 3
            ring.drain();
            admin.apply(new MigrationSendCommand.Suspend(1, MigrationSendCommand.STYPE_SUSPEND, false, 0).toSqe());   // suspended either way now
            admin.apply(TrackSendCommand.start(ring.cdqid).toSqe());   // the MC is suspended
            admin.apply(new AdminCommands.Sanitize(AdminCommands.Sanitize.BLOCK_ERASE, false, 0, false, false, 0).toSqe());
        }
        return out;
    }

    static List<Answer> departures(List<Answer> answers) {
        return answers.stream().filter(a -> !HmlmCommandStatuses.allows(a.command(), a.status())).toList();
    }

    @Test
    void theSpecExactControllerAnswersOnlyWhatTheFiguresList(@TempDir Path dir) throws Exception {
        List<Answer> answers = errorPaths(dir, ControllerChoices.SPEC);
        assertThat(answers).as("every HMLM status came up")
                .extracting(a -> a.status().field() & 0xff).contains(0x1f, 0x37, 0x39, 0x3a, 0x3b);
        assertThat(departures(answers)).isEmpty();
    }

    @Test
    void nvmeLmsDefaultDepartsOnlyWithTheSuspend3Bh(@TempDir Path dir) throws Exception {
        assertThat(departures(errorPaths(dir, ControllerChoices.NVME_LM)))
                .containsExactly(new Answer(AdminOpcode.MIGRATION_SEND, Status.dnr(StatusCodes.CDQ_FULL)));
    }

    /** The table itself, against Figure 103's "Commands Affected" column. */
    @Test
    void figure103() {
        assertThat(HmlmCommandStatuses.allows(AdminOpcode.TRACK_SEND, StatusCodes.CDQ_FULL)).isTrue();
        assertThat(HmlmCommandStatuses.allows(AdminOpcode.MIGRATION_SEND, StatusCodes.CDQ_FULL)).isFalse();
        assertThat(HmlmCommandStatuses.allows(AdminOpcode.SANITIZE, StatusCodes.CTRL_SUSPENDED)).isTrue();
        assertThat(HmlmCommandStatuses.allows(AdminOpcode.MIGRATION_SEND, StatusCodes.CTRL_SUSPENDED)).isFalse();
        assertThat(HmlmCommandStatuses.allows(AdminOpcode.MIGRATION_RECEIVE, StatusCodes.INVALID_CDQ)).isFalse();
        assertThat(HmlmCommandStatuses.allows(AdminOpcode.MIGRATION_SEND, StatusCodes.INVALID_FIELD)).as("not an HMLM status").isTrue();
        assertThat(HmlmCommandStatuses.covers(StatusCodes.INVALID_FIELD)).isFalse();
    }
}
