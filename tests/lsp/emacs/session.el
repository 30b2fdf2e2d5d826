;;; session.el --- Emacs + eglot (or lsp-mode with company) as a user has them, in batch: open a file, then
;; complete at point after typing (CGA_ACTION=complete, and CGA_THROUGH characters of the answer typed before the
;; popup), refine the function at the cursor (refine), or move point to line CGA_LINE with
;; lsp/editors/emacs/cga.el's `cga-rest-mode' on and type "x" there (rest), and save.
;; Driven by tests/lsp/test_emacs.py through CGA_* variables: CGA_CLIENT lsp-mode instead of eglot, CGA_YASNIPPET
;; for yasnippet on (as most Emacs setups have it), CGA_COMPANY for company's popup under eglot. Prints the
;; server's own answer at the cursor (ANSWER) so the test can tell what the saved file must hold, and how long
;; the refine command took (ANSWERED).
(require 'package)
;; Debian's elpa-* packages, as its site-start activates them for a user (emacs -Q skips that).
(setq package-directory-list '("/usr/share/emacs/site-lisp/elpa"))
;; yasnippet as it comes: the yasnippet-snippets collection (a separate package) sets python-mode's
;; `yas-indent-line' to `fixed', where yasnippet's own default, `auto', re-indents every line by the mode.
(setq package-load-list '((yasnippet-snippets nil) all))
(package-initialize)
(defvar cga-lsp-mode (equal (getenv "CGA_CLIENT") "lsp-mode"))
(require (if cga-lsp-mode 'lsp-mode 'eglot))
(require 'project)
(when (getenv "CGA_YASNIPPET")
  (require 'yasnippet)
  (yas-global-mode 1))
(setq python-indent-guess-indent-offset nil)
(defvar cga-python (getenv "CGA_PYTHON"))
(defvar cga-file (getenv "CGA_FILE"))
(defvar cga-command (list cga-python "-m" "cli" "lsp"))
;; No block time limit: suggestions compared across requests must not depend on how busy the machine is.
(defvar cga-options
  (list :model (getenv "CGA_MODEL") :threads 2 :maxTokens 64 :refineInBackground t :blockTimeLimitMs 0))
(defun cga-wait (what pred &optional seconds)
  (let ((deadline (+ (float-time) (or seconds 120))))
    (while (and (not (funcall pred)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (unless (funcall pred) (error "timed out waiting for %s" what))))
(when cga-lsp-mode
  ;; As lsp-mode's manual registers a server; no other Python server, no questions about the project root.
  ;; The session's own requests (the ghost text it compares with) wait as long as eglot's do here: the first loads
  ;; the model, which on a busy machine takes more than lsp-mode's 10 s.
  (setq lsp-auto-guess-root t lsp-enable-file-watchers nil lsp-restart 'ignore
        lsp-enable-suggest-server-download nil lsp-client-packages nil lsp-response-timeout 120)
  (lsp-register-client
   (make-lsp-client :new-connection (lsp-stdio-connection cga-command)
                    :major-modes '(python-mode) :add-on? t :server-id 'cga
                    :initialization-options cga-options)))
(find-file cga-file)
(python-mode)
(if cga-lsp-mode
    (progn
      (lsp)
      (cga-wait "lsp-mode" (lambda () (and (lsp-workspaces)
                                           (eq (lsp--workspace-status (car (lsp-workspaces))) 'initialized)))))
  (let ((project (cons 'transient (file-name-directory cga-file))))
    (eglot '(python-mode) project 'eglot-lsp-server (append cga-command (list :initializationOptions cga-options))
           "python"))
  (cga-wait "eglot" (lambda () (eglot-current-server))))
(defun cga-logged (pattern &optional after)
  "The first match of PATTERN in what the server sent eglot (its log among it), after AFTER if given."
  (with-current-buffer (jsonrpc-events-buffer (eglot-current-server))
    (save-excursion
      (goto-char (point-min))
      (when (or (null after) (search-forward after nil t))
        (and (re-search-forward pattern nil t) (match-string 0))))))

(defun cga-inline-answer ()
  "The server's ghost text at point: what its popup item must insert."
  (if cga-lsp-mode
      (let* ((reply (lsp-request "textDocument/inlineCompletion"
                                 (append (lsp--text-document-position-params) '(:context (:triggerKind 2)))))
             (items (gethash "items" reply)))
        (and (> (length items) 0) (gethash "insertText" (aref items 0))))
    (let* ((reply (jsonrpc-request (eglot-current-server) :textDocument/inlineCompletion
                                   (append (eglot--TextDocumentPositionParams) '(:context (:triggerKind 2)))
                                   :timeout 120))
           (items (plist-get reply :items)))
      (and (> (length items) 0) (plist-get (aref items 0) :insertText)))))

(defun cga-popup ()
  "The popup as a user of each client has it: company's (CGA_COMPANY) or eglot's `completion-at-point'; lsp-mode's
always company (its capf never calls a candidate exact, so without a front end the chosen item's edit is never
made)."
  (if (or cga-lsp-mode (getenv "CGA_COMPANY"))
      (progn
        (require 'company)
        (company-mode 1)
        (setq-local company-backends '(company-capf))
        (company-manual-begin)
        (cga-wait "company's candidates" (lambda () company-candidates) 60)
        (company-complete-selection))
    (completion-at-point)))

(defun cga-complete ()
  (goto-char (point-max))
  (insert (getenv "CGA_TYPED"))
  (unless cga-lsp-mode (eglot--signal-textDocument/didChange))
  (let ((answer (cga-inline-answer)))
    (princ (format "ANSWER %s\n" (json-encode answer)))
    ;; CGA_THROUGH characters of the answer typed, as a user typing on while it shows, before asking again
    (let ((through (string-to-number (or (getenv "CGA_THROUGH") "0"))))
      (when (> through 0)
        (insert (substring answer 0 through))
        (unless cga-lsp-mode (eglot--signal-textDocument/didChange)))))
  (let ((before (buffer-string)))
    (cga-popup)
    (cga-wait "the completion" (lambda () (not (equal before (buffer-string)))) 60))
  (when (and (not cga-lsp-mode) (cga-logged "typed through the suggestion shown"))
    (princ "TYPED-THROUGH\n")))

(defun cga-refine ()
  ;; As a user would call it, with eglot's own timeout (jsonrpc-default-request-timeout, 10 s).
  (goto-char (point-min))
  (search-forward (getenv "CGA_CURSOR"))
  ;; eglot asks before it applies an edit the server sends ("Server wants to edit … Proceed?"): the user says y.
  (advice-add 'y-or-n-p :override (lambda (&rest _) (princ "CONFIRMED\n") t))
  (let* ((before (buffer-string))
         (started (float-time))
         (here (if cga-lsp-mode (lsp--cur-position) (eglot--pos-to-lsp-position)))
         (arguments (vector (if cga-lsp-mode (lsp--buffer-uri) (eglot--path-to-uri cga-file))
                            (list :start here :end here)
                            "Add a docstring.")))
    (princ (format "REPLY %s\n" (json-encode
                                  (if cga-lsp-mode
                                      (lsp-send-execute-command "cga.refine" arguments)
                                    (eglot-execute-command (eglot-current-server) "cga.refine" arguments)))))
    (princ (format "ANSWERED %.3f\n" (- (float-time) started)))
    (cga-wait "the refinement" (lambda () (not (equal before (buffer-string)))) 240)))

(defun cga-rest ()
  (add-to-list 'load-path (getenv "CGA_EMACS_PLUGIN"))
  (require 'cga)
  (cga-rest-mode 1)
  (unless (timerp cga--rest-timer) (error "cga-rest-mode set no idle timer"))
  (cga-wait "the file read on opening" (lambda () (cga-logged "warmed the cache")) 240)
  (goto-char (point-min))
  (forward-line (string-to-number (getenv "CGA_LINE")))
  ;; What the idle timer runs once point has stayed put after a motion (batch Emacs runs no idle timers).
  (let ((last-command 'next-line)) (cga--rested))
  (cga-wait "the read where the cursor rested" (lambda () (cga-logged "where the cursor rested")) 240)
  (princ (format "RESTED %s\n" (cga-logged "warmed the cache with [0-9]+ tokens of [^ ]+ where the cursor rested")))
  (insert "x")
  (eglot--signal-textDocument/didChange)
  (jsonrpc-request (eglot-current-server) :textDocument/inlineCompletion
                   (append (eglot--TextDocumentPositionParams) '(:context (:triggerKind 2))) :timeout 120)
  (princ (format "ASKED %s\n" (cga-logged "prompt [0-9]+ tokens, [0-9]+ reused" "where the cursor rested"))))

(pcase (getenv "CGA_ACTION")
  ("refine" (cga-refine))
  ("rest" (cga-rest))
  (_ (cga-complete)))
(save-buffer)
(princ "SAVED\n")
(kill-emacs 0)
