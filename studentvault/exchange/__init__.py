"""Data exchange: validated imports (district files, Ed-Fi, OneRoster, state files),
contract-limited exports and the SFTP gateway. Every file in and out goes through access,
encryption and audit."""
