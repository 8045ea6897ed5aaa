"""The PowerShell a user runs once, as Administrator, on a Windows PC so LabDeck can reach it:
WinRM on, an HTTPS listener with a certificate, a firewall rule, and the quotas long jobs need."""

from __future__ import annotations

HTTPS_PORT = 5986


def prepare_windows_script(port: int = HTTPS_PORT, remote_address: str = "LocalSubnet") -> str:
    """``remote_address``: who may connect (``LocalSubnet``, an address, or a range such as
    ``10.0.0.0/24``); it goes to New-NetFirewallRule -RemoteAddress."""
    return f"""\
# LabDeck: prepare this Windows PC for WinRM over HTTPS.
# Run in PowerShell as Administrator (right-click Start > Terminal (Admin)).

# 1. Turn WinRM on (service, default settings), even on a network marked Public.
Enable-PSRemoting -Force -SkipNetworkProfileCheck

# 2. A certificate for HTTPS, named after this PC (self-signed, valid 5 years).
$names = @($env:COMPUTERNAME, [System.Net.Dns]::GetHostEntry('').HostName) | Select-Object -Unique
$cert = New-SelfSignedCertificate -DnsName $names -CertStoreLocation Cert:\\LocalMachine\\My `
    -NotAfter (Get-Date).AddYears(5)

# 3. An HTTPS listener on port {port} with that certificate (replacing an older one).
Get-ChildItem WSMan:\\localhost\\Listener |
    Where-Object {{ $_.Keys -contains 'Transport=HTTPS' }} | Remove-Item -Recurse -Force
New-Item -Path WSMan:\\localhost\\Listener -Transport HTTPS -Address * `
    -CertificateThumbPrint $cert.Thumbprint -Port {port} -Force

# 4. Let LabDeck in through the firewall over HTTPS. (Enable-PSRemoting also allowed plain
#    HTTP on port 5985; to close that to the network:
#    Disable-NetFirewallRule -Name 'WINRM-HTTP-In-TCP*')
New-NetFirewallRule -DisplayName 'LabDeck WinRM over HTTPS' -Direction Inbound -Protocol TCP `
    -LocalPort {port} -RemoteAddress {remote_address} -Action Allow -Profile Any

# 5. Quotas that would otherwise end long jobs: no memory or process cap, 8 h idle shells.
Set-Item WSMan:\\localhost\\Shell\\MaxMemoryPerShellMB 0
Set-Item WSMan:\\localhost\\Plugin\\microsoft.powershell\\Quotas\\MaxMemoryPerShellMB 0
Set-Item WSMan:\\localhost\\Shell\\MaxProcessesPerShell 0
Set-Item WSMan:\\localhost\\Shell\\MaxShellsPerUser 30
Set-Item WSMan:\\localhost\\Shell\\IdleTimeout 28800000

# 6. A local (non-domain) administrator account may use WinRM with full rights.
New-ItemProperty -Path HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System `
    -Name LocalAccountTokenFilterPolicy -Value 1 -PropertyType DWord -Force | Out-Null

Restart-Service WinRM

# 7. The certificate is self-signed: in LabDeck either tick "Do not check the certificate"
#    for this node, or import this file into the trusted roots of LabDeck's computer.
Export-Certificate -Cert $cert -FilePath "$env:USERPROFILE\\Desktop\\$env:COMPUTERNAME-winrm.cer" | Out-Null
"Ready: https://$($env:COMPUTERNAME):{port}/wsman  certificate thumbprint $($cert.Thumbprint)"
"""
