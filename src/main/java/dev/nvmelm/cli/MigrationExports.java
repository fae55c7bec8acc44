package dev.nvmelm.cli;

import dev.nvmelm.nbd.BlockDeviceExport;
import dev.nvmelm.nbd.NbdExport;
import dev.nvmelm.nbd.NbdExportCatalog;
import dev.nvmelm.net.agent.DestinationAgent;
import dev.nvmelm.net.agent.MigrationStatus;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * The NBD face of {@code nvme-lm serve --nbd}: one export per migration, named by its migration
 * id. Before the commit it reads the namespace as copied so far and refuses writes; from the
 * commit on every request runs through the destination controller's I/O queues (docs/vm.md,
 * "The destination before the switchover"). A migration that is unknown, aborted or not served
 * (committed before the agent restarted) is refused in the handshake with the reason.
 */
final class MigrationExports implements NbdExportCatalog {
    private final DestinationAgent agent;

    MigrationExports(DestinationAgent agent) {
        this.agent = agent;
    }

    @Override
    public List<String> names() {
        return agent.migrations().stream()
                .filter(m -> m.phase() == MigrationStatus.Phase.OPEN || m.phase() == MigrationStatus.Phase.SERVED)
                .map(m -> m.id().toString()).sorted().toList();
    }

    @Override
    public NbdExport find(String name) throws Refused {
        UUID id;
        try {
            id = UUID.fromString(name);
        } catch (IllegalArgumentException e) {
            throw new Refused("no migration '" + name + "' on this agent (an export is named by its migration id)");
        }
        Optional<MigrationStatus> st = agent.status(id);
        if (st.isEmpty()) throw new Refused("no migration " + id + " on this agent (not started yet, or another agent's)");
        MigrationStatus s = st.get();
        switch (s.phase()) {
            case ABORTED -> throw new Refused("migration " + id + " aborted: " + s.reason());
            case COMMITTED -> throw new Refused("migration " + id + " is not served by this agent: " + s.reason());
            default -> {
                return new BlockDeviceExport(id.toString(), new MigrationNamespace(agent, s), null);
            }
        }
    }
}
