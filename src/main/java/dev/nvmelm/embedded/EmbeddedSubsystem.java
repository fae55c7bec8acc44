package dev.nvmelm.embedded;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.pci.HostMemory;
import dev.nvmelm.host.pci.PciNvmeDevice;
import dev.nvmelm.spec.bus.DmaMemory;

import java.io.IOException;

/**
 * A software NVM subsystem in this process, with the migration host's driver on its MMC. Its
 * migratable controllers are attached to guest memory (a VM's RAM), which is where their
 * queues live.
 */
public final class EmbeddedSubsystem implements AutoCloseable {
    private final Subsystem subsystem;
    private final HostMemory hostMemory = new HostMemory();
    private final PciNvmeDevice mmc;
    private boolean handedOff;

    public EmbeddedSubsystem(Subsystem.Config config, DmaMemory guestMemory, String name) throws IOException, NvmeException {
        this.subsystem = Subsystem.open(config);
        try {
            subsystem.controller(0).attach(hostMemory);
            for (int c = 1; c <= config.migratable(); c++) subsystem.controller(c).attach(guestMemory);
            this.mmc = new PciNvmeDevice(subsystem.controller(0), hostMemory, PciNvmeDevice.Options.defaults(name));
        } catch (NvmeException | RuntimeException e) {
            subsystem.close();
            hostMemory.close();
            throw e;
        }
    }

    public Subsystem subsystem() {
        return subsystem;
    }

    /** The migration host's view: admin and I/O to the MMC (whose shared namespaces cover every MC's). */
    public PciNvmeDevice mmc() {
        return mmc;
    }

    /**
     * Stops being the migration host's (closes the MMC's driver and its host memory) and hands
     * the running subsystem to the caller, e.g. to {@link DeviceServer#serve}; its migratable
     * controllers keep their state. Closing this afterwards does nothing more.
     */
    public Subsystem handOff() {
        mmc.close();
        hostMemory.close();
        handedOff = true;
        return subsystem;
    }

    @Override
    public void close() throws IOException {
        if (handedOff) return;
        mmc.close();
        subsystem.close();
        hostMemory.close();
    }
}
