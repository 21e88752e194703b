; NSIS additions for Berth's Windows installer (electron-builder.yml nsis.include).
;
; Launch at login is a value in HKCU\...\Run named after the app's AppUserModelID, which
; main/desktop.ts sets to the appId (Electron's setLoginItemSettings writes it, and Task
; Manager's on/off switch for it lives under StartupApproved\Run). Uninstalling Berth takes
; both away, so Windows does not try to start a program that is gone. An update runs the old
; version's uninstaller too: then the values stay, as the person set them.

!macro customUnInstall
  ${ifNot} ${isUpdated}
    DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "dev.berth.app"
    DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run" "dev.berth.app"
  ${endIf}
!macroend
