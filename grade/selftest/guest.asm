; guest.asm - a 512-byte real-mode guest for the harness self-tests (grade/tests/test_harness_self.py).
; Built with `nasm -f bin -DMODE=n`; it speaks the serial protocol without any kernel so the runner's
; classification (OK, TIMEOUT, TRIPLE_FAULT, flood capping, checkpoints) is tested on its own.
;   MODE 0: ok run        1: hang        2: triple fault     3: flood     4: checkpoint (QEMU: waits
;   for a byte on COM1; Bochs: xchg bx,bx) with CR3=0x5000 and "RSD PTR " at 0x6000, then ok.
;   MODE 5: prints `@@ end status=ok`, then hangs (no magic break, no exit)
;   MODE 6: prints `@@ end status=ok`, then writes the panic code to isa-debug-exit (QEMU exit 37);
;   Bochs ignores the port and stops at the usual magic break. (5 and 6: the harness must not take the
;   line on trust under QEMU; grade/README.md "Outcome".)
;   MODE 7: drains the UART, a magic break with no protocol line pending, then `@@ end status=ok` and a
;   hang (no second magic break, no exit): an earlier break must not confirm a later `end` (Bochs).
; Like the kernel, it drains the UART before each magic break and ends with `@@ end`, a magic break
; (Bochs) and a write to isa-debug-exit (QEMU exit code 33).
bits 16
org 0x7c00
%define COM1 0x3f8
start:
	cli
	xor ax, ax
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov sp, 0x7000
	; 115200 8N1, FIFO on
	mov dx, COM1+3
	mov al, 0x80
	out dx, al
	mov dx, COM1
	mov al, 1
	out dx, al
	mov dx, COM1+1
	xor al, al
	out dx, al
	mov dx, COM1+3
	mov al, 3
	out dx, al
	mov dx, COM1+2
	mov al, 0xc7
	out dx, al
	mov dx, COM1+4
	mov al, 0x0b
	out dx, al
	mov si, msg_boot
	call puts
%if MODE == 1
.hang:	hlt
	jmp .hang
%elif MODE == 2
	lidt [null_idt]
	int 3
%elif MODE == 3
.flood:	mov si, msg_flood
	call puts
	jmp .flood
%elif MODE == 4
	mov eax, 0x5000
	mov cr3, eax
	mov di, 0x6000
	mov si, rsd
	mov cx, 8
	rep movsb
	mov si, msg_cp
	call puts
	call drain
	xchg bx, bx
	; QEMU handshake: wait for one byte (Bochs: the break above already stopped us; no byte comes,
	; so only wait when the LSR says data is ready or we are not under Bochs: port e9 reads 0xe9 there)
	in al, 0xe9
	cmp al, 0xe9
	je .done
.wait:	mov dx, COM1+5
	in al, dx
	test al, 1
	jz .wait
	mov dx, COM1
	in al, dx
.done:	mov si, msg_after
	call puts
%endif
%if MODE == 7
	call drain
	xchg bx, bx
%endif
	mov si, msg_end
	call puts
	call drain
%if MODE == 5 || MODE == 7
.lie:	hlt
	jmp .lie
%elif MODE == 6
	mov dx, 0xf4
	mov ax, 0x12
	out dx, ax
%endif
	xchg bx, bx
	mov dx, 0xf4
	mov ax, 0x10
	out dx, ax
.stop:	hlt
	jmp .stop

puts:	lodsb
	test al, al
	jz .ret
	mov ah, al
	mov dx, COM1+5
.busy:	in al, dx
	test al, 0x20
	jz .busy
	mov dx, COM1
	mov al, ah
	out dx, al
	jmp puts
.ret:	ret

; drain: wait until the UART has sent everything (LSR.TEMT), so a debugger stop sees the whole line.
drain:	mov dx, COM1+5
.w:	in al, dx
	test al, 0x40
	jz .w
	ret

null_idt: dw 0
	dd 0
msg_boot:  db 27, "[0m", "selftest guest", 13, 10, "@@ boot path=selftest loader=", '"', "raw \", '"', "x", '"', 10, 0
msg_flood: db "flood flood flood flood flood flood flood flood flood flood flood flood flood", 10, 0
msg_cp:    db "@@ checkpoint name=selftest cr3=0x5000", 10, 0
msg_after: db "@@ after_checkpoint ok=1", 10, 0
msg_end:   db "@@ end status=ok", 10, 0
rsd:       db "RSD PTR "
times 510-($-$$) db 0
dw 0xaa55
