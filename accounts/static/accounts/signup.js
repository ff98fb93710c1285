// Sign-up: show the professional details only when "Doctor" is chosen (all show without JS).
(function () {
  const form = document.getElementById("signup-form");
  if (!form) return;
  const section = form.querySelector("[data-show-for-role]");
  const update = () => {
    const chosen = form.querySelector('input[name="role"]:checked');
    section.hidden = !chosen || chosen.value !== section.dataset.showForRole;
  };
  form.querySelectorAll('input[name="role"]').forEach((radio) => radio.addEventListener("change", update));
  update();
})();
