; Inno Setup script for LabDeck's Windows installer (Inno Setup 6).
; installer/build.py runs it after PyInstaller:
;   ISCC /DAppVersion=0.1.0 /DSourceDir=dist\labdeck /DResourcesDir=resources /Odist\installer installer\labdeck.iss
;
; Installs per user by default (no administrator needed; the wizard offers all users), adds a
; Start-menu shortcut, optionally a desktop shortcut and "start LabDeck when I sign in" (in the
; tray: --minimized), which goes into the Startup folder of the user who signs in; it is offered
; only in the per-user install, because an elevated install would put it in the administrator's
; Startup folder, not the user's (Inno Setup: per-user areas belong to non-administrative mode). The
; uninstaller removes the program and keeps the user's catalog, run logs and settings unless
; the user answers Yes to deleting them (a silent uninstall always keeps them).

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\dist\labdeck"
#endif
#ifndef ResourcesDir
  #define ResourcesDir "..\resources"
#endif
#define AppName "LabDeck"
#define AppExeName "LabDeck.exe"
; Where LabDeck keeps its data on Windows: platformdirs.user_data_dir("LabDeck", appauthor=False).
#define DataDir "{localappdata}\LabDeck"

[Setup]
AppId={{7D3F8C2E-5B1A-4C7E-9A64-2E1F0B8D4C93}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=LabDeck
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputBaseFilename=LabDeck-{#AppVersion}-setup
SetupIconFile={#ResourcesDir}\labdeck.ico
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName} {#AppVersion}
WizardStyle=modern
Compression=lzma2/max
SolidCompression=yes
; Offer to close a running LabDeck (Restart Manager) before replacing or removing its files.
CloseApplications=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "startup"; Description: "Start LabDeck in the tray when I sign in to Windows"; GroupDescription: "Start-up:"; Flags: unchecked; Check: not IsAdminInstallMode

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Comment: "Run and watch batch jobs across your lab's machines"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Tasks: desktopicon
Name: "{userstartup}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Parameters: "--minimized"; Tasks: startup; Check: not IsAdminInstallMode

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Files the program may have written next to itself; the user's data is elsewhere (see [Code]).
Type: filesandordirs; Name: "{app}"

[Code]
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  DataDir: String;
begin
  if CurUninstallStep <> usPostUninstall then
    exit;
  DataDir := ExpandConstant('{#DataDir}');
  if UninstallSilent or not DirExists(DataDir) then
    exit;
  if MsgBox('Also delete your LabDeck data?' + #13#10#13#10 +
            'The catalog (nodes, jobs, schedules, run history), the run logs and the settings are in' + #13#10 +
            DataDir + #13#10#13#10 +
            'Choose No to keep them for a later installation of LabDeck. Node passwords stay in ' +
            'Windows Credential Manager (entries named LabDeck) either way.',
            mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
  begin
    if not DelTree(DataDir, True, True, True) then
      MsgBox('Some files in ' + DataDir + ' could not be deleted (is LabDeck still running?); ' +
             'delete the folder yourself.', mbError, MB_OK);
  end;
end;
