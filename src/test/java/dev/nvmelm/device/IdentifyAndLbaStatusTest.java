package dev.nvmelm.device;

import dev.nvmelm.spec.AdminCommands;
import dev.nvmelm.spec.GetLbaStatus;
import dev.nvmelm.spec.IdentifyController;
import dev.nvmelm.spec.IdentifyControllerNvm;
import dev.nvmelm.spec.IoCommands;
import dev.nvmelm.spec.LittleEndian;
import dev.nvmelm.spec.AdminOpcode;
import dev.nvmelm.spec.IoOpcode;
import dev.nvmelm.spec.Status;
import dev.nvmelm.spec.SupportedControllerStateFormats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a host discovers (docs/spec.md, "Identify"): the HMLM capability fields only on the MMC, LBAMQF,
 * the supported controller state formats, the LM commands in the Commands Supported and
 * Effects log; and Get LBA Status ATYPE 02h (TP4165) following writes and deallocations.
 */
class IdentifyAndLbaStatusTest {

    static Sim.Buf identify(Sim sim, Sim.Host h, int cns) {
        Sim.Buf b = sim.alloc(4096);
        assertThat(h.admin(h.withData(new AdminCommands.Identify(cns, 0, 0, 0).toSqe(), b)).status()).isEqualTo(Status.SUCCESS);
        return b;
    }

    @Test
    void onlyTheMmcAdvertisesAndAcceptsTheLmCommands(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir, 3)) {
            IdentifyController mmc = IdentifyController.decode(identify(fx.sim, fx.mmc, AdminCommands.CNS_CONTROLLER).seg());
            IdentifyController mc = IdentifyController.decode(identify(fx.sim, fx.mc, AdminCommands.CNS_CONTROLLER).seg());
            assertThat(mmc.cntlid()).isZero();
            assertThat(mc.cntlid()).isEqualTo(1);
            assertThat(mmc.hmlms()).isTrue();
            assertThat(mc.hmlms()).isFalse();
            assertThat(mmc.trattr()).isEqualTo(IdentifyController.TRATTR_TUDCS);
            // NVMe Base 2.1, section 5.1.4.1.1.1 (page 209): MCUDMQ counts the UDMQs that exist in
            // the controller that creates them, the MMC; it holds one per MC, so 3, not 1
            assertThat(mmc.mcudmq()).isEqualTo(3);
            assertThat(mmc.mnsudmq()).isEqualTo(3);
            for (int cntlid = 1; cntlid <= mmc.mcudmq(); cntlid++) fx.createCdq(cntlid, 16);
            assertThat(mmc.mcdqpc()).isEqualTo(AdminHandler.MCDQPC);
            assertThat(mmc.mcmr()).isEqualTo(AdminHandler.MCDQPC);
            assertThat(mmc.nmcmr()).as("section 5.1.4.1.1: all CDQs' ranges together").isEqualTo(16 * AdminHandler.MCDQPC);
            assertThat(mc.mcudmq()).isZero();
            assertThat(mmc.oacs() & IdentifyController.OACS_GET_LBA_STATUS).isNotZero();

            IdentifyControllerNvm nvm = IdentifyControllerNvm.decode(identify(fx.sim, fx.mmc, AdminCommands.CNS_CS_CONTROLLER).seg());
            assertThat(nvm.lbamqf()).as("LBA Migration Queue Entry Type 0").isZero();
            assertThat(nvm.aocs() & IdentifyControllerNvm.AOCS_RALBAS).isEqualTo(1);

            Sim.Buf formats = identify(fx.sim, fx.mmc, AdminCommands.CNS_CONTROLLER_STATE_FORMATS);
            assertThat(SupportedControllerStateFormats.decode(formats.seg())).isEqualTo(new SupportedControllerStateFormats(List.of(0), List.of()));
            assertThat(formats.seg().asSlice(4).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).as("NV=1, NUUID=0, VER[0]=0: 4 bytes").containsOnly(0);

            for (Sim.Host h : List.of(fx.mmc, fx.mc)) {
                Sim.Buf log = fx.sim.alloc(4096);
                assertThat(h.admin(h.withData(AdminCommands.GetLogPage.forBytes(AdminCommands.LID_COMMANDS_SUPPORTED, 0, 4096).toSqe(), log))
                        .status()).isEqualTo(Status.SUCCESS);
                for (int op : new int[]{AdminOpcode.TRACK_SEND.value(), AdminOpcode.TRACK_RECEIVE.value(), AdminOpcode.MIGRATION_SEND.value(), AdminOpcode.MIGRATION_RECEIVE.value(),
                        AdminOpcode.CONTROLLER_DATA_QUEUE.value()}) {
                    assertThat(log.seg().get(LittleEndian.U32, 4L * op) & 1).as("CSUPP of %x on CNTLID %d", op, h.c.cntlid())
                            .isEqualTo(h == fx.mmc ? 1 : 0);
                }
                assertThat(log.seg().get(LittleEndian.U32, 1024 + 4L * IoOpcode.WRITE.value())).as("Write: CSUPP and LBCC").isEqualTo(3);
            }
        }
    }

    static int[] activeNamespaces(Fx fx, Sim.Host h, int after) {
        Sim.Buf b = fx.sim.alloc(4096);
        dev.nvmelm.spec.Cqe c = h.admin(h.withData(new AdminCommands.Identify(AdminCommands.CNS_ACTIVE_NS_LIST, 0, after, 0).toSqe(), b));
        if (!c.status().isSuccess()) return new int[]{-c.status().field()};
        return java.util.stream.IntStream.range(0, 1024).map(i -> b.seg().get(LittleEndian.U32, 4L * i)).filter(v -> v != 0).toArray();
    }

    @Test
    void activeNamespaceListsCompareNsidsUnsigned(@TempDir Path dir) throws Exception {
        try (Sim sim = new Sim(dir, 2, 3, Fx.NS_BYTES, Fx.LBA)) {
            Fx fx = new Fx(sim);
            assertThat(activeNamespaces(fx, fx.mc, 0)).containsExactly(1, 2, 3);
            assertThat(activeNamespaces(fx, fx.mc, 2)).containsExactly(3);
            assertThat(activeNamespaces(fx, fx.mmc, 0)).as("the MMC sees every MC's namespaces").containsExactly(1, 2, 3, 4, 5, 6);
            assertThat(activeNamespaces(fx, fx.mmc, 0x7fffffff)).isEmpty();
            assertThat(activeNamespaces(fx, fx.mc, 0xfffffffe)).containsExactly(-0x400b);
            assertThat(activeNamespaces(fx, fx.mc, -1)).containsExactly(-0x400b);
        }
    }

    static List<GetLbaStatus.Descriptor> allocated(Fx fx, long slba, int rl) {
        Sim.Buf b = fx.sim.alloc(4096);
        assertThat(fx.mc.admin(fx.mc.withData(new GetLbaStatus.Command(1, slba, 1023, rl, GetLbaStatus.ATYPE_ALLOCATED).toSqe(), b))
                .status()).isEqualTo(Status.SUCCESS);
        GetLbaStatus.Reply r = GetLbaStatus.Reply.decode(b.seg(), 4096);
        assertThat(r.complete()).isTrue();
        return r.descriptors();
    }

    @Test
    void getLbaStatusReportsWhatWasWrittenAndNotWhatWasDeallocated(@TempDir Path dir) throws Exception {
        try (Fx fx = new Fx(dir)) {
            assertThat(allocated(fx, 0, 0)).as("a fresh sparse namespace").isEmpty();
            fx.write(1, 16, 8);      // 4 KiB at LBA 16 (512-byte LBAs)
            fx.write(1, 1024, 16);   // 8 KiB at LBA 1024
            assertThat(allocated(fx, 0, 0)).containsExactly(new GetLbaStatus.Descriptor(16, 8), new GetLbaStatus.Descriptor(1024, 16));
            assertThat(allocated(fx, 1000, 100)).as("RL limits the range").containsExactly(new GetLbaStatus.Descriptor(1024, 16));
            assertThat(fx.mc.io(1, new IoCommands.WriteZeroes(1, 1024, 15, true).toSqe()).status()).isEqualTo(Status.SUCCESS);
            assertThat(allocated(fx, 0, 0)).as("deallocated: a hole again").containsExactly(new GetLbaStatus.Descriptor(16, 8));
        }
    }
}
