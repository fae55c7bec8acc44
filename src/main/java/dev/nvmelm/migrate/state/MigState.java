package dev.nvmelm.migrate.state;

/**
 * The VFIO migration uAPI v2 device states that nvme-lm uses for a migratable controller
 * (Linux VFIO migration v2; values as in enum vfio_device_mig_state; docs/migration.md). P2P states are not modelled:
 * an NVMe MC that is suspended does no DMA at all.
 */
public enum MigState {
    ERROR, STOP, RUNNING, STOP_COPY, RESUMING, PRE_COPY;

    /** PRE_COPY and STOP_COPY share one data session; they may only start or end a path. */
    public boolean inSavingGroup() {
        return this == PRE_COPY || this == STOP_COPY;
    }
}
