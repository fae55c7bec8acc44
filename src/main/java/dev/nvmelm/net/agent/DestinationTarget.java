package dev.nvmelm.net.agent;

import dev.nvmelm.block.BlockDevice;

import java.io.IOException;

/**
 * What the destination agent migrates into: a namespace to write, and the migratable controller
 * that receives the source's state and resumes the guest. Built by whoever hosts the agent (the
 * CLI wires the software subsystem; a real host would wire its NVMe device).
 */
public interface DestinationTarget extends AutoCloseable {
    BlockDevice data();

    /** Applies the controller state (Set Controller State on a suspended MC with no I/O queues). */
    void applyState(byte[] state) throws IOException;

    /** Resumes the MC: the guest runs here from now on. */
    void resume() throws IOException;

    /**
     * True once committed if the target serves the migrated controller and namespace to local
     * hosts from then on: the agent then keeps it open for its life instead of closing it.
     */
    default boolean serving() {
        return false;
    }

    /** Disk space a serving target may take beyond its namespace (a host memory file, say). */
    default long servingBytes() {
        return 0;
    }

    @Override
    void close() throws IOException;

    /** Opens (creating if new) the target for a migration of this geometry, or refuses with a reason. */
    interface Factory {
        DestinationTarget open(java.util.UUID migrationId, long sizeBytes, int lbaSizeBytes) throws IOException;
    }
}
