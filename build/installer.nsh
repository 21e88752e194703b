; NSIS additions for Berth's Windows installer: electron-builder includes installer.nsh from
; the build resources by itself (and so for an app Berth hosts too).
;
; Launch at login is a value in HKCU\...\Run named after the app's AppUserModelID, which
; main/desktop.ts sets to the appId, electron-builder's APP_ID (Electron's
; setLoginItemSettings writes it, and Task Manager's on/off switch for it lives under
; StartupApproved\Run). Uninstalling Berth takes
; both away, so Windows does not try to start a program that is gone. An update runs the old
; version's uninstaller too: then the values stay, as the person set them.

!macro customUnInstall
  ${ifNot} ${isUpdated}
    DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Run" "${APP_ID}"
    DeleteRegValue HKCU "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run" "${APP_ID}"
  ${endIf}
!macroend
