package dev.nvmelm.cli;

import dev.nvmelm.block.BlockDevice;
import dev.nvmelm.net.agent.DestinationAgent;
import dev.nvmelm.net.agent.DestinationTarget;
import dev.nvmelm.net.agent.MigrationStatus;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A migration's namespace on the destination agent, as its NBD export uses it: every request
 * goes to the migration's target through the agent (which keeps it open meanwhile), and the
 * target answers it before or after the commit ({@link AgentTarget}).
 */
final class MigrationNamespace implements BlockDevice {
    private final DestinationAgent agent;
    private final MigrationStatus migration;

    MigrationNamespace(DestinationAgent agent, MigrationStatus migration) {
        this.agent = agent;
        this.migration = migration;
    }

    private interface Use<T> {
        T on(AgentTarget target) throws IOException;
    }

    private <T> T use(Use<T> use) throws IOException {
        return agent.withTarget(migration.id(), (DestinationTarget t) -> {
            if (!(t instanceof AgentTarget a)) throw new IOException("migration " + migration.id() + " has no namespace this agent serves");
            return use.on(a);
        });
    }

    @Override public String name() { return "migration " + migration.id(); }

    @Override public long sizeBytes() { return migration.sizeBytes(); }

    @Override public int blockSizeBytes() { return migration.lbaSizeBytes(); }

    @Override public int maxRequestBytes() { return 1 << 20; }

    @Override
    public MemorySegment allocateBuffer(long sizeBytes) {
        return Arena.ofAuto().allocate(sizeBytes, 4096);
    }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        use(t -> {
            t.read(offset, dst);
            return null;
        });
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        use(t -> {
            t.write(offset, src);
            return null;
        });
    }

    @Override
    public void writeZeroes(long offset, long length, boolean deallocate) throws IOException {
        use(t -> {
            t.writeZeroes(offset, length, deallocate);
            return null;
        });
    }

    @Override
    public void flush() throws IOException {
        use(t -> {
            t.flush();
            return null;
        });
    }

    @Override
    public List<Extent> allocated(long offset, long length) throws IOException {
        return use(t -> t.allocated(offset, length));
    }

    @Override public void close() {}
}
