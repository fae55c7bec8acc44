package dev.nvmelm.cli;

import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;

/** Maps a device string to a backend. */
final class DeviceOpener {
    private DeviceOpener() {}

    static NvmeDevice open(String device, GlobalOptions g) throws NvmeException {
        throw new NvmeException("no backend can open device '" + device + "' yet (use --dry-run to print the command)");
    }
}
