package dev.nvmelm.embedded;

import dev.nvmelm.device.Subsystem;
import dev.nvmelm.host.NvmeException;
import dev.nvmelm.host.sim.SimNvmeDevice;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The wiring the served-subsystem tests share: a {@code device serve} subsystem (two migratable
 * controllers, one 16 MiB namespace each, 4 KiB LBAs, 32 MiB of shared host memory) in a fresh
 * directory per test, closed after it, and sim: clients of its controllers.
 */
public abstract class ServedSubsystemFixture {
    protected static final Duration TIMEOUT = Duration.ofSeconds(10);

    @TempDir
    protected Path dir;
    protected DeviceServer server;

    @BeforeEach
    protected void startServer() throws Exception {
        server = DeviceServer.start(new Subsystem.Config(dir, 16 << 20, 1, 2, 4096), 32 << 20, null);
    }

    @AfterEach
    protected void stopServer() throws Exception {
        server.close();
    }

    /** A sim: client of controller {@code cntlid} (0: the MMC). */
    protected SimNvmeDevice open(int cntlid) throws NvmeException {
        return SimNvmeDevice.open(server.deviceString() + (cntlid == 0 ? "" : "#" + cntlid), TIMEOUT);
    }
}
