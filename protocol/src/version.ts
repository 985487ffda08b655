/**
 * The product's version, one source for everything that reports it: `fleetd --version`, the
 * API's `Server: fleetd/<version>` header, the version a fleetd machine advertises, and the
 * extension (package.json's "version", which a test keeps equal to this).
 */
export const FLEET_VERSION = '0.1.0';
