package dev.nvmelm.embedded;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.pci.HostMemory;
import dev.nvmelm.host.pci.PciNvmeDevice;
import dev.nvmelm.migrate.MediaMigration;
import dev.nvmelm.block.NvmeBlockDevice;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Two hosts' worth of software NVMe in one process, and a guest: the source subsystem with the
 * guest's controller (MC 1) and the destination subsystem whose MC 1 will take over. Guest
 * memory is shared by both MCs, as a VM's RAM is after the VMM migrated it, and
 * {@link #handover} plays the VMM repointing the guest's BAR. Namespace data is read and
 * written through each MMC's shared namespaces, as a migration host would.
 */
public final class LiveMigrationRig implements AutoCloseable {
    public static final int CNTLID = 1, NSID = 1;

    private final HostMemory guestMemory = new HostMemory();
    private final EmbeddedSubsystem source, destination;
    private final PciNvmeDevice guest;
    private final NvmeBlockDevice sourceData, destinationData;

    public LiveMigrationRig(Path sourceImage, Path destinationImage, Path workDir, long sizeBytes, int lbaSize) throws IOException, NvmeException {
        source = new EmbeddedSubsystem(new Subsystem.Config(workDir.resolve("src"), sizeBytes, 1, 1, lbaSize, sourceImage), guestMemory, "source-mmc");
        try {
            destination = new EmbeddedSubsystem(new Subsystem.Config(workDir.resolve("dst"), sizeBytes, 1, 1, lbaSize, destinationImage),
                    guestMemory, "destination-mmc");
            guest = new PciNvmeDevice(source.subsystem().controller(CNTLID), guestMemory, PciNvmeDevice.Options.defaults("guest"));
            sourceData = new NvmeBlockDevice(source.mmc(), NSID);
            destinationData = new NvmeBlockDevice(destination.mmc(), NSID);
        } catch (IOException | NvmeException | RuntimeException e) {
            source.close();
            throw e;
        }
    }

    public PciNvmeDevice guest() {
        return guest;
    }

    public MediaMigration.Side sourceSide() {
        return new MediaMigration.Side(source.mmc(), CNTLID, NSID, sourceData);
    }

    public MediaMigration.Side destinationSide() {
        return new MediaMigration.Side(destination.mmc(), CNTLID, NSID, destinationData);
    }

    /** The VMM's handover: the guest's doorbells and interrupts go to the other side's MC 1. */
    public MediaMigration.GuestHandover handover() {
        return new MediaMigration.GuestHandover() {
            @Override
            public void toDestination() throws NvmeException {
                guest.moveTo(destination.subsystem().controller(CNTLID));
            }

            @Override
            public void backToSource() throws NvmeException {
                guest.moveTo(source.subsystem().controller(CNTLID));
            }
        };
    }

    public NvmeBlockDevice sourceData() {
        return sourceData;
    }

    public NvmeBlockDevice destinationData() {
        return destinationData;
    }

    @Override
    public void close() throws IOException {
        guest.close();
        destination.close();
        source.close();
        guestMemory.close();
    }
}
