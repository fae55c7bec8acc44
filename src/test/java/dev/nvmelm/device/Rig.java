package dev.nvmelm.device;

import dev.nvmelm.host.pci.HostMemory;
import dev.nvmelm.host.pci.PciNvmeDevice;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A test subsystem wired the way a host and a VM see it: the migration host drives the MMC from
 * its own memory; the "guest" drives MC 1 from guest memory that any other MC can be attached
 * to, as a destination is after the VMM migrated guest RAM.
 */
final class Rig implements AutoCloseable {
    final Subsystem subsystem;
    final HostMemory hostMem = new HostMemory();
    final HostMemory guestMem = new HostMemory();
    final PciNvmeDevice mmc;
    final PciNvmeDevice guest;

    Rig(Path dir, long nsBytes, int migratable) throws Exception {
        this(dir, nsBytes, migratable, PciNvmeDevice.Options.defaults("guest"));
    }

    Rig(Path dir, long nsBytes, int migratable, PciNvmeDevice.Options guestOptions) throws Exception {
        subsystem = Subsystem.open(new Subsystem.Config(dir, nsBytes, 1, migratable, 4096));
        subsystem.controller(0).attach(hostMem);
        for (int c = 1; c <= migratable; c++) subsystem.controller(c).attach(guestMem);
        mmc = new PciNvmeDevice(subsystem.controller(0), hostMem, PciNvmeDevice.Options.defaults("mmc"));
        guest = new PciNvmeDevice(subsystem.controller(1), guestMem, guestOptions);
    }

    @Override
    public void close() throws IOException {
        guest.close();
        mmc.close();
        subsystem.close();
        hostMem.close();
        guestMem.close();
    }
}
