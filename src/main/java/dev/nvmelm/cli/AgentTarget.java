package dev.nvmelm.cli;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.embedded.EmbeddedSubsystem;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.pci.HostMemory;
import dev.nvmelm.migrate.block.BlockDevice;
import dev.nvmelm.migrate.block.NvmeBlockDevice;
import dev.nvmelm.migrate.state.ControllerStateMachine;
import dev.nvmelm.migrate.state.IllegalTransitionException;
import dev.nvmelm.migrate.state.MigState;
import dev.nvmelm.net.agent.DestinationTarget;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/**
 * What {@code nvme-lm serve} migrates into: a software subsystem per migration in DIR/<id>/,
 * namespace 1 of MC 1 receiving the data through the MMC, MC 1 suspended from the start,
 * receiving the state at commit and resumed last.
 */
final class AgentTarget implements DestinationTarget {
    private final EmbeddedSubsystem subsystem;
    private final HostMemory guestMemory = new HostMemory();
    private final NvmeBlockDevice data;
    private final ControllerStateMachine mc;

    private AgentTarget(Path dir, long sizeBytes, int lbaSizeBytes) throws IOException, NvmeException {
        EmbeddedSubsystem s = new EmbeddedSubsystem(new Subsystem.Config(dir, sizeBytes, 1, 1, lbaSizeBytes), guestMemory, "agent " + dir.getFileName());
        try {
            this.data = new NvmeBlockDevice(s.mmc(), 1);
            this.mc = new ControllerStateMachine(s.mmc(), 1, MigState.RUNNING);
            mc.transition(MigState.STOP);   // a destination MC waits suspended for its state
        } catch (NvmeException | RuntimeException e) {
            s.close();
            throw e;
        }
        this.subsystem = s;
    }

    static DestinationTarget.Factory factory(Path dir) {
        return (UUID id, long sizeBytes, int lbaSizeBytes) -> {
            Files.createDirectories(dir);
            long usable = Files.getFileStore(dir).getUsableSpace();
            if (usable < sizeBytes) {
                throw new IOException("not enough space in " + dir + " for a " + sizeBytes + "-byte namespace (" + usable + " bytes usable)");
            }
            try {
                return new AgentTarget(dir.resolve(id.toString()), sizeBytes, lbaSizeBytes);
            } catch (NvmeException e) {
                throw new IOException(e.getMessage(), e);
            }
        };
    }

    @Override
    public BlockDevice data() {
        return data;
    }

    /**
     * The controller state names the guest's queues by IOVA. nvme-lm moves the namespace and the
     * controller, not the guest's RAM (the VMM's job), so the agent maps empty memory at those
     * addresses, which is right only if no command was waiting in a submission queue; with one
     * waiting, the state is refused rather than letting the controller fetch zeroes as commands.
     */
    @Override
    public void applyState(byte[] state) throws IOException {
        dev.nvmelm.spec.ControllerState cs;
        try {
            cs = dev.nvmelm.spec.ControllerState.decode(state);
        } catch (IllegalArgumentException e) {
            throw new IOException("the controller state is malformed: " + e.getMessage(), e);
        }
        for (dev.nvmelm.spec.IoSqState sq : cs.sqs()) {
            if (sq.head() != sq.tail()) {
                throw new IOException("the source's submission queue " + sq.qid() + " had commands waiting (head " + sq.head() + ", tail " + sq.tail()
                        + "); without the guest's memory they cannot be carried over");
            }
        }
        try {
            for (dev.nvmelm.spec.IoSqState sq : cs.sqs()) guestMemory.allocateAt(sq.prp1(), (sq.qsizeZeroBased() + 1L) * 64);
            for (dev.nvmelm.spec.IoCqState cq : cs.cqs()) guestMemory.allocateAt(cq.prp1(), (cq.qsizeZeroBased() + 1L) * 16);
        } catch (IllegalArgumentException e) {
            throw new IOException("cannot place the guest's queues: " + e.getMessage(), e);
        }
        try {
            mc.transition(MigState.RESUMING);
            mc.load(state);
            mc.transition(MigState.STOP);   // Set Controller State
        } catch (NvmeException | IllegalTransitionException e) {
            throw new IOException("applying the controller state: " + e.getMessage(), e);
        }
    }

    @Override
    public void resume() throws IOException {
        try {
            mc.transition(MigState.RUNNING);
        } catch (NvmeException | IllegalTransitionException e) {
            throw new IOException("resuming the destination controller: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() throws IOException {
        subsystem.close();
        guestMemory.close();
    }
}
