# gxpscan: the Windows collection script. One round trip gathers every fact asked for; it only reads (no file,
# no temporary file, no setting is written; P/Invoke is defined in memory, nothing is compiled).
# The collector runs it after setting:
#   $N             the per-run nonce that starts every frame line
#   $Wanted        the fact names to collect, in order
#   $FactTimeoutMs the time one fact may take
#   $Prelude       text every fact block starts with (data such as $RegistryValues)
# Each fact runs in its own runspace, inside its own try/catch, with its own stopwatch and timeout, and prints
#   <LF>$N FACT <name> <milliseconds> ok|error<LF><one line of JSON><LF>$N END <name><LF>
# A fact whose block throws is an error value ({"error": "..."}); the others go on. Facts marked Admin need local
# Administrators; without them they are not run and say so. Names and texts the host localises are never read:
# accounts by SID and RID, settings as numbers, audit subcategories by GUID.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
[Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false)

$Helpers = @'
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$Invariant = [System.Globalization.CultureInfo]::InvariantCulture
function UtcText($Time) {
    if ($null -eq $Time) { return $null }
    $t = [datetime]$Time
    if ($t.Year -lt 1971) { return $null }
    return $t.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", $Invariant)
}
function NativeMethod([string]$Dll, [string]$Name, [type]$Return, [type[]]$Parameters) {
    # A P/Invoke signature built in memory (Reflection.Emit): no compiler runs and no file is written.
    $assembly = [System.Reflection.Emit.AssemblyBuilder]::DefineDynamicAssembly(
        [System.Reflection.AssemblyName]::new('GxpNative' + $Name), [System.Reflection.Emit.AssemblyBuilderAccess]::Run)
    $module = $assembly.DefineDynamicModule('GxpNative' + $Name)
    $type = $module.DefineType('GxpNative.' + $Name, 'Public, Class')
    $method = $type.DefinePInvokeMethod($Name, $Dll, 'Public, Static, PinvokeImpl', 'Standard', $Return,
        $Parameters, 'Winapi', 'Unicode')
    $method.SetImplementationFlags('PreserveSig')
    return $type.CreateType()
}
function MachineDomainSid {
    $admin = Get-LocalUser | Where-Object { $_.SID.Value -match '-500$' } | Select-Object -First 1
    if ($null -eq $admin) { throw 'no local account with RID 500: cannot tell the machine SID' }
    return $admin.SID.AccountDomainSid
}
function WsmanBool([string]$Path) {
    $v = [string](Get-Item -LiteralPath $Path).Value
    if ($v -eq 'true') { return $true }
    if ($v -eq 'false') { return $false }
    throw "unexpected value at ${Path}: $v"
}
'@

$Facts = @{}

$Facts['windows.system'] = @{ Admin = $false; Body = @'
$os = Get-CimInstance -ClassName Win32_OperatingSystem
$cs = Get-CimInstance -ClassName Win32_ComputerSystem
@{ hostname = [string]$env:COMPUTERNAME; os = [string]$os.Caption; os_version = [string]$os.Version;
   build = [string]$os.BuildNumber; domain = [string]$cs.Domain; part_of_domain = [bool]$cs.PartOfDomain }
'@ }

$Facts['windows.local_accounts'] = @{ Admin = $false; Body = @'
$times = @{}
foreach ($u in Get-LocalUser) {
    $times[$u.SID.Value] = @{ last_logon = UtcText $u.LastLogon; password_last_set = UtcText $u.PasswordLastSet }
}
$accounts = @(foreach ($a in Get-CimInstance -ClassName Win32_UserAccount -Filter 'LocalAccount = TRUE') {
    $t = $times[[string]$a.SID]
    if ($null -eq $t) { throw "account $($a.SID) is not listed by Get-LocalUser" }
    @{ name = [string]$a.Name; sid = [string]$a.SID; rid = [int](([string]$a.SID).Split('-')[-1]);
       enabled = -not [bool]$a.Disabled; password_required = [bool]$a.PasswordRequired;
       password_expires = [bool]$a.PasswordExpires; last_logon = $t.last_logon;
       password_last_set = $t.password_last_set }
})
@{ accounts = $accounts }
'@ }

$Facts['windows.admin_group'] = @{ Admin = $false; Body = @'
$machine = MachineDomainSid
$sid = [System.Security.Principal.SecurityIdentifier]::new('S-1-5-32-544')
$name = $sid.Translate([System.Security.Principal.NTAccount]).Value.Split('\')[-1]
$group = [ADSI]('WinNT://./' + $name + ',group')
$members = @(foreach ($m in @($group.psbase.Invoke('Members'))) {
    $kind = [string]$m.GetType().InvokeMember('Class', 'GetProperty', $null, $m, $null)
    $path = [string]$m.GetType().InvokeMember('ADsPath', 'GetProperty', $null, $m, $null)
    $bytes = [byte[]]$m.GetType().InvokeMember('objectSid', 'GetProperty', $null, $m, $null)
    $msid = [System.Security.Principal.SecurityIdentifier]::new($bytes, 0)
    $parts = $path.Substring(8).Split('/')
    $local = ($msid.AccountDomainSid -eq $machine) -or $msid.Value.StartsWith('S-1-5-32-')
    @{ name = ($parts[-2] + '\' + $parts[-1]); sid = $msid.Value; kind = $kind.ToLowerInvariant(); local = $local }
})
@{ name = $name; members = $members }
'@ }

$Facts['windows.password_policy'] = @{ Admin = $false; Body = @'
# The account domain's password and lockout information from the SAM (DomainPasswordInformation = 1,
# DomainLockoutInformation = 12), as numbers: intervals in negative 100-ns units.
$ptr = [IntPtr]
$out = [IntPtr].MakeByRefType()
$connect = NativeMethod 'samlib.dll' 'SamConnect' ([int]) @($ptr, $out, [int], $ptr)
$open = NativeMethod 'samlib.dll' 'SamOpenDomain' ([int]) @($ptr, [int], [byte[]], $out)
$query = NativeMethod 'samlib.dll' 'SamQueryInformationDomain' ([int]) @($ptr, [int], $out)
$free = NativeMethod 'samlib.dll' 'SamFreeMemory' ([int]) @($ptr)
$close = NativeMethod 'samlib.dll' 'SamCloseHandle' ([int]) @($ptr)
$sid = MachineDomainSid
$sidBytes = [byte[]]::new($sid.BinaryLength)
$sid.GetBinaryForm($sidBytes, 0)
$attributes = [System.Runtime.InteropServices.Marshal]::AllocHGlobal(48)
$server = [IntPtr]::Zero
$domain = [IntPtr]::Zero
try {
    for ($i = 0; $i -lt 48; $i += 8) { [System.Runtime.InteropServices.Marshal]::WriteInt64($attributes, $i, 0) }
    [System.Runtime.InteropServices.Marshal]::WriteInt32($attributes, 0, 48)
    $status = $connect::SamConnect([IntPtr]::Zero, [ref]$server, 0x21, $attributes)
    if ($status -ne 0) { throw ('SamConnect failed: NTSTATUS 0x{0:X8}' -f $status) }
    $status = $open::SamOpenDomain($server, 0x1, $sidBytes, [ref]$domain)
    if ($status -ne 0) { throw ('SamOpenDomain failed: NTSTATUS 0x{0:X8}' -f $status) }
    $buffer = [IntPtr]::Zero
    $status = $query::SamQueryInformationDomain($domain, 1, [ref]$buffer)
    if ($status -ne 0) { throw ('SamQueryInformationDomain(password) failed: NTSTATUS 0x{0:X8}' -f $status) }
    $m = [System.Runtime.InteropServices.Marshal]
    $result = @{ min_length = [int]$m::ReadInt16($buffer, 0); history = [int]$m::ReadInt16($buffer, 2);
                 properties = [long][uint32]$m::ReadInt32($buffer, 4); max_age_100ns = $m::ReadInt64($buffer, 8);
                 min_age_100ns = $m::ReadInt64($buffer, 16) }
    [void]$free::SamFreeMemory($buffer)
    $buffer = [IntPtr]::Zero
    $status = $query::SamQueryInformationDomain($domain, 12, [ref]$buffer)
    if ($status -ne 0) { throw ('SamQueryInformationDomain(lockout) failed: NTSTATUS 0x{0:X8}' -f $status) }
    $result.lockout_duration_100ns = $m::ReadInt64($buffer, 0)
    $result.lockout_window_100ns = $m::ReadInt64($buffer, 8)
    $result.lockout_threshold = [int][uint16]$m::ReadInt16($buffer, 16)
    [void]$free::SamFreeMemory($buffer)
    $result
} finally {
    if ($domain -ne [IntPtr]::Zero) { [void]$close::SamCloseHandle($domain) }
    if ($server -ne [IntPtr]::Zero) { [void]$close::SamCloseHandle($server) }
    [System.Runtime.InteropServices.Marshal]::FreeHGlobal($attributes)
}
'@ }

$Facts['windows.registry'] = @{ Admin = $false; Body = @'
$values = @(foreach ($pair in $RegistryValues) {
    $data = $null
    $item = Get-ItemProperty -LiteralPath $pair[0] -Name $pair[1] -ErrorAction SilentlyContinue
    if ($null -ne $item) {
        $v = $item.($pair[1])
        if ($v -is [int] -or $v -is [long] -or $v -is [uint32]) { $data = [long]$v }
        elseif ($v -is [string]) { $data = $v }
        else { throw "registry value $($pair[0])\$($pair[1]) is neither a number nor a string" }
    }
    @{ key = $pair[0]; name = $pair[1]; data = $data }
})
@{ values = $values }
'@ }

$Facts['windows.smb_server'] = @{ Admin = $true; Body = @'
$c = Get-SmbServerConfiguration
@{ smb1_enabled = [bool]$c.EnableSMB1Protocol; signing_required = [bool]$c.RequireSecuritySignature;
   encrypt_data = [bool]$c.EncryptData; reject_unencrypted_access = [bool]$c.RejectUnencryptedAccess }
'@ }

$Facts['windows.winrm_service'] = @{ Admin = $true; Body = @'
$listeners = @(foreach ($l in Get-ChildItem -LiteralPath 'WSMan:\localhost\Listener') {
    $transport = @($l.Keys | Where-Object { $_ -like 'Transport=*' })
    if ($transport.Count -ne 1) { throw "listener $($l.Name) has no single transport" }
    $transport[0].Substring(10).ToUpperInvariant()
})
@{ allow_unencrypted = WsmanBool 'WSMan:\localhost\Service\AllowUnencrypted';
   basic_auth = WsmanBool 'WSMan:\localhost\Service\Auth\Basic'; listeners = $listeners }
'@ }

$Facts['windows.audit_policy'] = @{ Admin = $true; Body = @'
# Every subcategory of the effective advanced audit policy (AuditEnumerateSubCategories, AuditQuerySystemPolicy):
# AUDIT_POLICY_INFORMATION is 36 bytes (subcategory GUID, ULONG flags, category GUID); 1 = success, 2 = failure.
$ptr = [IntPtr]
$enumerate = NativeMethod 'advapi32.dll' 'AuditEnumerateSubCategories' ([byte]) @($ptr, [byte], [IntPtr].MakeByRefType(), [uint32].MakeByRefType())
$query = NativeMethod 'advapi32.dll' 'AuditQuerySystemPolicy' ([byte]) @($ptr, [uint32], [IntPtr].MakeByRefType())
$free = NativeMethod 'advapi32.dll' 'AuditFree' ([void]) @($ptr)
$guids = [IntPtr]::Zero
$count = [uint32]0
if ($enumerate::AuditEnumerateSubCategories([IntPtr]::Zero, 1, [ref]$guids, [ref]$count) -eq 0) {
    throw 'AuditEnumerateSubCategories failed' }
$policy = [IntPtr]::Zero
try {
    if ($query::AuditQuerySystemPolicy($guids, $count, [ref]$policy) -eq 0) {
        throw 'AuditQuerySystemPolicy failed (it needs SeSecurityPrivilege)' }
    $m = [System.Runtime.InteropServices.Marshal]
    $settings = @(for ($i = 0; $i -lt $count; $i++) {
        $bytes = [byte[]]::new(16)
        $m::Copy([IntPtr]($policy.ToInt64() + 36 * $i), $bytes, 0, 16)
        $flags = $m::ReadInt32($policy, 36 * $i + 16)
        @{ guid = ([guid]::new($bytes)).ToString().ToUpperInvariant(); success = (($flags -band 1) -ne 0);
           failure = (($flags -band 2) -ne 0) }
    })
    @{ settings = $settings }
} finally {
    if ($policy -ne [IntPtr]::Zero) { $free::AuditFree($policy) }
    $free::AuditFree($guids)
}
'@ }

$Facts['windows.security_log'] = @{ Admin = $true; Body = @'
$log = Get-WinEvent -ListLog Security
$oldest = $null
if ($log.RecordCount -gt 0) {
    $first = Get-WinEvent -LogName Security -Oldest -MaxEvents 1
    $oldest = UtcText $first.TimeCreated
    if ($null -eq $oldest) { throw 'the oldest Security event has no time' }
}
@{ enabled = [bool]$log.IsEnabled; max_size_bytes = [long]$log.MaximumSizeInBytes; log_mode = [string]$log.LogMode;
   record_count = [long]$log.RecordCount; oldest_event = $oldest }
'@ }

$Facts['windows.services'] = @{ Admin = $false; Body = @'
@{ services = @(foreach ($s in Get-CimInstance -ClassName Win32_Service) {
    @{ name = [string]$s.Name; start_mode = [string]$s.StartMode; state = [string]$s.State } }) }
'@ }

$Facts['windows.event_forwarding'] = @{ Admin = $false; Body = @'
$key = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\EventLog\EventForwarding\SubscriptionManager'
$managers = @()
if (Test-Path -LiteralPath $key) {
    $item = Get-Item -LiteralPath $key
    $managers = @(foreach ($n in $item.GetValueNames()) { [string]$item.GetValue($n) })
}
@{ subscription_managers = $managers }
'@ }

$Facts['windows.time'] = @{ Admin = $false; Body = @'
# w32tm labels are localised: the collector reads the status lines by position and number only.
$p = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Services\W32Time\Parameters'
$running = (Get-Service -Name W32Time).Status -eq 'Running'
$lines = @()
if ($running) {
    $lines = @(& "$env:SystemRoot\System32\w32tm.exe" /query /status /verbose | ForEach-Object { [string]$_ })
    if ($LASTEXITCODE -ne 0) { throw "w32tm /query /status exited with $LASTEXITCODE" }
}
@{ service_running = [bool]$running; sync_type = [string]$p.Type; ntp_server = [string]$p.NtpServer; status = $lines }
'@ }

$Facts['windows.bitlocker'] = @{ Admin = $true; Body = @'
$fixed = @(foreach ($v in Get-CimInstance -ClassName Win32_Volume -Filter 'DriveType = 3') {
    if ($v.DriveLetter) { [string]$v.DriveLetter } })
if ($null -eq (Get-Command -Name Get-BitLockerVolume -ErrorAction SilentlyContinue)) {
    return @{ available = $false; volumes = @(); fixed_volumes = $fixed }
}
$volumes = @(foreach ($v in Get-BitLockerVolume) {
    $protection = [string]$v.ProtectionStatus
    if ($protection -ne 'On' -and $protection -ne 'Off') { throw "volume $($v.MountPoint): protection $protection" }
    @{ mount = [string]$v.MountPoint; kind = [string]$v.VolumeType; protection_on = ($protection -eq 'On');
       status = [string]$v.VolumeStatus; method = [string]$v.EncryptionMethod }
})
@{ available = $true; volumes = $volumes; fixed_volumes = $fixed }
'@ }

$Facts['windows.backup'] = @{ Admin = $true; Body = @'
$installed = $null -ne (Get-Command -Name Get-WBSummary -ErrorAction SilentlyContinue)
$schedule = @()
$last = $null
$hr = $null
if ($installed) {
    $policy = Get-WBPolicy
    if ($null -ne $policy) {
        $schedule = @(foreach ($t in Get-WBSchedule -Policy $policy) { ([datetime]$t).ToString('HH:mm', $Invariant) })
    }
    $summary = Get-WBSummary
    $last = UtcText $summary.LastSuccessfulBackupTime
    $hr = [long]$summary.LastBackupResultHR
}
$vss = @(foreach ($t in Get-ScheduledTask -TaskPath '\') {
    if ($t.TaskName -like 'ShadowCopyVolume*' -and [string]$t.State -ne 'Disabled') { [string]$t.TaskName } })
# The status file the inventory declares (backup_status_file): its first 64 KiB and its modification time, opened
# for reading only, while others may write it.
$status = $null
if ($BackupStatusFile) {
    $item = Get-Item -LiteralPath $BackupStatusFile -ErrorAction SilentlyContinue
    if ($null -eq $item -or $item.PSIsContainer) {
        $status = @{ path = $BackupStatusFile; exists = $false; mtime = $null; text = '' }
    } else {
        $stream = [System.IO.File]::Open($item.FullName, 'Open', 'Read', 'ReadWrite')
        try {
            $buffer = [byte[]]::new(65536)
            $count = $stream.Read($buffer, 0, $buffer.Length)
        } finally {
            $stream.Dispose()
        }
        $status = @{ path = $BackupStatusFile; exists = $true; mtime = UtcText $item.LastWriteTimeUtc;
                     text = [System.Text.Encoding]::UTF8.GetString($buffer, 0, $count) }
    }
}
@{ wsb_installed = $installed; schedule = $schedule; last_success = $last; last_result_hr = $hr; vss_tasks = $vss;
   status = $status; now = UtcText (Get-Date) }
'@ }

$Facts['windows.firewall'] = @{ Admin = $false; Body = @'
@{ profiles = @(foreach ($p in Get-NetFirewallProfile) {
    @{ name = [string]$p.Name; enabled = ([string]$p.Enabled -eq 'True');
       default_inbound = [string]$p.DefaultInboundAction } }) }
'@ }

$IsAdmin = ([System.Security.Principal.WindowsPrincipal][System.Security.Principal.WindowsIdentity]::GetCurrent()).IsInRole(
    [System.Security.Principal.SecurityIdentifier]::new('S-1-5-32-544'))
foreach ($name in $Wanted) {
    $watch = [System.Diagnostics.Stopwatch]::StartNew()
    $status = 'ok'
    $fact = $Facts[$name]
    try {
        if ($null -eq $fact) { throw 'no such fact in collect.ps1' }
        if ($fact.Admin -and -not $IsAdmin) { throw 'needs local Administrators' }
        $shell = [PowerShell]::Create()
        try {
            [void]$shell.AddScript($Prelude + "`n" + $Helpers + "`n" + $fact.Body)
            $async = $shell.BeginInvoke()
            if (-not $async.AsyncWaitHandle.WaitOne([int]$FactTimeoutMs)) {
                [void]$shell.BeginStop($null, $null)
                throw "timed out after $FactTimeoutMs ms"
            }
            $result = @($shell.EndInvoke($async))
            if ($shell.Streams.Error.Count -gt 0) { throw $shell.Streams.Error[0].Exception }
            if ($result.Count -ne 1) { throw "the fact block gave $($result.Count) values, not one" }
            $json = ConvertTo-Json -InputObject $result[0] -Depth 8 -Compress
        } finally {
            $shell.Dispose()
        }
    } catch {
        $status = 'error'
        $json = ConvertTo-Json -InputObject @{ error = [string]$_.Exception.Message } -Compress
    }
    [Console]::Out.Write("`n$N FACT $name $($watch.ElapsedMilliseconds) $status`n$json`n$N END $name`n")
}
[Console]::Out.Flush()
