package dev.nvmelm.cli;

import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.migrate.MediaMigration;
import dev.nvmelm.net.agent.DigestSkip;
import dev.nvmelm.net.agent.RemoteDestination;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code migrate --to}: a source (an image on the embedded controller, or a served controller)
 * and a destination agent over the network. The engine ends storage-only at the stop; then the
 * source's controller state and COMMIT go to the agent, and the source learns the outcome.
 */
final class RemoteEndpoints implements MigrationRun.Endpoints {
    /** The source half of a remote migration. */
    interface Source {
        MediaMigration.Side side();

        MediaMigration.GuestHandover handover();

        /** The guest's device for a workload in this process, or null. */
        NvmeDevice guest();

        /** SHA-256 of the whole source namespace (read while the source is suspended). */
        byte[] sha256() throws Exception;

        /** After COMMITTED: the source lets go of its guests; returns a note for the report, or null. */
        default String committed() {
            return null;
        }

        /** After a commit that did not complete: what the source does now, in words. */
        default String notCommitted() {
            return "the source controller is suspended with its data intact";
        }
    }

    private final Source source;
    private final RemoteDestination remote;
    private final MigrationRun.Remote settings;
    private final DigestSkip skip;

    RemoteEndpoints(Source source, RemoteDestination remote, MigrationRun.Remote settings) {
        this.source = source;
        this.remote = remote;
        this.settings = settings;
        this.skip = settings.resume() ? new DigestSkip(remote, source.side().data()) : null;
    }

    @Override public dev.nvmelm.migrate.copy.Copier.BulkSkip bulkSkip() { return skip; }

    @Override public MediaMigration.Side source() { return source.side(); }

    @Override public MediaMigration.Side destination() { return MediaMigration.Side.storageOnly(remote); }

    @Override public MediaMigration.GuestHandover handover() { return source.handover(); }

    @Override public NvmeDevice guest() { return source.guest(); }

    @Override public long sizeBytes() { return source.side().data().sizeBytes(); }

    @Override public boolean verifiesRemotely() { return true; }

    @Override
    public String finish(MediaMigration.Outcome outcome) throws Exception {
        String line;
        if (settings.wholeHash()) {
            remote.commit(outcome.sourceControllerState(), source.sha256(), Duration.ofMinutes(30));
            line = "destination agent: durable, SHA-256 of the whole namespace matches the source, controller state applied and resumed";
        } else {
            remote.commit(outcome.sourceControllerState(), new byte[32], Duration.ofMinutes(30));
            line = "destination agent: durable, every extent read back and checked against its CRC32C as written, controller state applied"
                    + " and resumed (--verify full adds a SHA-256 of the whole namespace, read during the stop)";
        }
        String note = source.committed();
        return note == null ? line : line + "; " + note;
    }

    @Override
    public String notCommitted() {
        return source.notCommitted();
    }

    @Override
    public Map<String, Object> transportReport() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("bytes_sent_wire", remote.bytesSentWire.get());
        m.put("reconnects", remote.reconnects.get());
        m.put("bytes_resent", remote.bytesResent.get());
        m.put("migration_id", settings.id().toString());
        m.put("resumed", settings.resume());
        m.put("bytes_skipped_by_digest", skip == null ? 0 : skip.bytesSkipped());
        m.put("compression", settings.compression().label());
        m.put("data_bytes_before_compression", remote.dataBytesRaw.get());
        m.put("data_bytes_on_wire", remote.dataBytesWire.get());
        return m;
    }

    @Override public void close() {}
}
