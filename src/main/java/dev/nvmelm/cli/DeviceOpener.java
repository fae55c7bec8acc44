package dev.nvmelm.cli;

import dev.nvmelm.host.NvmeDevice;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.linux.LinuxNvmeDevice;
import dev.nvmelm.host.sim.SimNvmeDevice;

/** Maps a device string to a backend. */
final class DeviceOpener {
    private DeviceOpener() {}

    static NvmeDevice open(String device, GlobalOptions g) throws NvmeException {
        if (SimNvmeDevice.handles(device)) return SimNvmeDevice.open(device, g.timeout());
        if (device.startsWith("/dev/")) return LinuxNvmeDevice.open(device, g.timeout());
        throw new NvmeException("'" + device + "' is not a device nvme-lm knows: use /dev/nvmeX (Linux) or sim:DIR/ctl.sock[#CNTLID] (nvme-lm device serve)");
    }
}
