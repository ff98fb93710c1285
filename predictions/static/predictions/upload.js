// Drag and drop onto the upload zone fills the (ordinary) file input; the form posts as usual.
(function () {
  const zone = document.getElementById("dropzone");
  const input = document.getElementById("id_file");
  const chosen = document.getElementById("chosen-files");
  if (!zone || !input) return;
  input.classList.add("visually-hidden");
  input.classList.remove("form-control");
  const show = () => {
    chosen.textContent = Array.from(input.files).map((f) => f.name).join(", ");
  };
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach((type) =>
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("dragover");
    })
  );
  ["dragleave", "drop"].forEach((type) =>
    zone.addEventListener(type, () => zone.classList.remove("dragover"))
  );
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      input.dispatchEvent(new Event("change"));  // the file list and the crop step follow
    }
  });
  document.getElementById("upload-form").addEventListener("submit", () => {
    const button = document.getElementById("upload-submit");
    button.disabled = true;
    button.textContent = "Uploading…";
  });
})();
