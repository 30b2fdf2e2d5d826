;;; cga.el --- Tell `cga lsp' where the cursor rests, under eglot  -*- lexical-binding: t -*-

;; Author: the codegen-assistant authors
;; License: BSD-3-Clause
;; Package-Requires: ((emacs "27.1") (eglot "1.9"))

;;; Commentary:

;; Eglot serves `cga lsp' without help: completion at point, and refinement through
;; `eglot-execute-command' (see the README). This adds what eglot cannot know to send:
;; `cga-rest-mode' tells the server where point comes to rest (the `cga/cursorRested'
;; notification, as the VS Code extension and the Neovim plugin send it), and the server
;; reads the code before point while you look at it, so the first suggestion where you
;; then type is not a cold one.  Typing does not count as moving: its requests read
;; their own window.
;;
;;   (add-to-list 'load-path "/path/to/codegen-assistant/lsp/editors/emacs")
;;   (require 'cga)
;;   (cga-rest-mode 1)

;;; Code:

(require 'eglot)
(require 'jsonrpc)

(defgroup cga nil
  "CodeGen Assistant's language server, under eglot."
  :group 'tools
  :prefix "cga-")

(defcustom cga-rest-seconds 0.3
  "How long point stays put before the server is told where it rests."
  :type 'number)

(defvar cga--rest-timer nil)

(defun cga--server ()
  "The buffer's eglot server if it is `cga lsp', else nil."
  (let ((server (and (bound-and-true-p eglot--managed-mode) (eglot-current-server))))
    (when (and server
               (equal (plist-get (eglot--server-info server) :name) "cga-lsp"))
      server)))

(defun cga-cursor-rested ()
  "Tell the buffer's `cga lsp' where point is, so that it reads the code before it."
  (interactive)
  (let ((server (cga--server)))
    (when server
      (eglot--signal-textDocument/didChange) ; the server must have the text the position is in
      (jsonrpc-notify server :cga/cursorRested (eglot--TextDocumentPositionParams)))))

(defun cga--rested ()
  (unless (memq last-command '(self-insert-command newline electric-newline-and-maybe-indent))
    (cga-cursor-rested)))

;;;###autoload
(define-minor-mode cga-rest-mode
  "Tell the cga language server where point comes to rest.
The server then reads the code before point while you look at it."
  :global t
  (when cga--rest-timer
    (cancel-timer cga--rest-timer)
    (setq cga--rest-timer nil))
  (when cga-rest-mode
    (setq cga--rest-timer (run-with-idle-timer cga-rest-seconds t #'cga--rested))))

(provide 'cga)
;;; cga.el ends here
